import { ConfigError, readRecordedApprovalsRequired, type DatabasePool } from '@valhalla/core';

/**
 * A worker's APPROVALS_REQUIRED must be the one the api recorded (readRecordedApprovalsRequired): with a lower value it
 * would apply an enable or a release the api holds back for approval (four-eyes off), with a higher one it would
 * reject every approved change.
 * @throws ConfigError naming APPROVALS_REQUIRED when they differ.
 */
export const assertApprovalsAgree = async (pool: DatabasePool, configured: number): Promise<void> => {
  const recorded = await readRecordedApprovalsRequired(pool);
  if (recorded.value === configured) return;
  const source =
    recorded.entryId === null
      ? 'the default the api runs with when none was recorded'
      : `recorded by the api in audit entry ${recorded.entryId}${recorded.release === null ? '' : ` (release ${recorded.release})`}`;
  throw new ConfigError([
    {
      field: 'APPROVALS_REQUIRED',
      message: `is ${configured} here but ${recorded.value} for the api (${source}); set the same value on the api and the worker (Render: the worker takes it from the api)`,
    },
  ]);
};
