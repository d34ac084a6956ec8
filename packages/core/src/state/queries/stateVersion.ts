import { sql, type CommonQueryMethods } from 'slonik';

/**
 * The state's version: the audit id of the newest applied change entry (0 before the first). Events and job
 * retries are not changes and do not count. The query itself is the SQL function `governance_live_version()`
 * (revision 20260212_live_state_notify), which the live state and its notifications use too: one definition.
 */
export const readStateVersion = async (db: CommonQueryMethods): Promise<number> =>
  Number(await db.oneFirst(sql.unsafe`SELECT public.governance_live_version() AS version`));
