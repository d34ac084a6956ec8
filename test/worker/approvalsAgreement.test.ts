import { describe, expect, it } from 'vitest';
import { APPROVALS_SETTING_ACTION, sql } from '../../packages/core/src/index.js';
import { startApiProcess, startWorkerProcess } from '../api/processes.js';
import { useTestDatabase } from '../helpers/database.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';

const database = useTestDatabase({ poolSize: 2 });

const settingEvents = () =>
  database.current.pool.any(sql.unsafe`
    SELECT details->>'approvals_required' AS value, details->>'previous' AS previous FROM public.governance_audit_log
    WHERE action = ${APPROVALS_SETTING_ACTION} ORDER BY id`);

describe('APPROVALS_REQUIRED: one value for the api and the worker', () => {
  it('records the api value, and a worker with another value refuses to start (78) while one with the same value runs', async () => {
    const env = { databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix: uniqueQueuePrefix('approvals') };
    // The default (1) is not recorded: nothing to disagree with yet.
    const plain = await startApiProcess(env);
    await plain.process.stop();
    expect(await settingEvents()).toEqual([]);

    const api = await startApiProcess({ ...env, extra: { APPROVALS_REQUIRED: '2' } });
    try {
      expect(await settingEvents()).toEqual([{ value: '2', previous: '1' }]);
      // The review's setup: the worker left at the default would apply any release or enable without approval.
      const mismatched = startWorkerProcess(env);
      expect((await mismatched.exited).code).toBe(78);
      expect(mismatched.output()).toMatch(/APPROVALS_REQUIRED: is 1 here but 2 for the api \(recorded by the api in audit entry \d+/);
      const higher = startWorkerProcess({ ...env, extra: { APPROVALS_REQUIRED: '3' } });
      expect((await higher.exited).code).toBe(78);

      const agreeing = startWorkerProcess({ ...env, extra: { APPROVALS_REQUIRED: '2' } });
      await agreeing.waitForOutput(/worker ready/, 30_000);
      expect((await agreeing.stop()).code).toBe(0);
    } finally {
      await api.process.stop();
    }

    // Back to one approver: recorded once more, and the worker follows.
    const again = await startApiProcess(env);
    await again.process.stop();
    expect(await settingEvents()).toEqual([
      { value: '2', previous: '1' },
      { value: '1', previous: '2' },
    ]);
    const stale = startWorkerProcess({ ...env, extra: { APPROVALS_REQUIRED: '2' } });
    expect((await stale.exited).code).toBe(78);
  }, 120_000);
});
