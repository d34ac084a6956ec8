import { sql, type CommonQueryMethods } from 'slonik';
import { GOVERNANCE_ACTION_VALUES } from '../model.js';

/**
 * The state's version: the audit id of the newest applied change entry (0 before the first). Events and job
 * retries are not changes and do not count.
 */
export const readStateVersion = async (db: CommonQueryMethods): Promise<number> =>
  Number(
    await db.oneFirst(sql.unsafe`
      SELECT coalesce(max(id), 0) AS version FROM public.governance_audit_log
      WHERE outcome = 'applied' AND action = ANY(${sql.array([...GOVERNANCE_ACTION_VALUES], 'text')})
    `),
  );
