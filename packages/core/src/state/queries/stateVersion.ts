import { sql, type CommonQueryMethods } from 'slonik';

/** The state's version: the audit id of the newest applied change entry (0 before the first). Events do not count. */
export const readStateVersion = async (db: CommonQueryMethods): Promise<number> =>
  Number(
    await db.oneFirst(sql.unsafe`
      SELECT coalesce((SELECT id FROM public.governance_audit_log WHERE kind = 'change' AND outcome = 'applied' ORDER BY id DESC LIMIT 1), 0)
    `),
  );
