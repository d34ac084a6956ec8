import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

/** Whether the keyed audit chain exists yet (revision 20260210_audit_chain_keyed made its head function). */
export const auditLogExists = async (tx: CommonQueryMethods): Promise<boolean> =>
  tx.oneFirst(sql.type(z.object({ exists: z.boolean() }))`SELECT to_regprocedure('public.governance_audit_chain_head()') IS NOT NULL AS exists`);
