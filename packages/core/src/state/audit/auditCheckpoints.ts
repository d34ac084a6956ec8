import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { hmacHex, type AuditKeyring } from './auditKeyring.js';
import { stableStringify } from './canonicalEntry.js';

/** What a verification run saw: the chain verified up to `headId`, whose hash was `headHash`. */
export type AuditCheckpoint = { id: number; headId: number; headHash: string; fullCheck: boolean; keyId: string; mac: string };

const checkpointRow = z.object({
  id: z.number(),
  head_id: z.number(),
  head_hash: z.string(),
  full_check: z.boolean(),
  key_id: z.string(),
  mac: z.string(),
});

const macText = (checkpoint: { headId: number; headHash: string; fullCheck: boolean }) =>
  stableStringify(['valhalla-audit-checkpoint-v1', checkpoint.headId, checkpoint.headHash, checkpoint.fullCheck]);

/** True when the checkpoint's MAC was made with a key of `keyring` (a forged checkpoint cannot vouch for a head). */
export const checkpointMacValid = (checkpoint: AuditCheckpoint, keyring: AuditKeyring): boolean => {
  const key = keyring.byId.get(checkpoint.keyId);
  return key !== undefined && hmacHex(key, macText(checkpoint)) === checkpoint.mac;
};

/** The newest checkpoint, or null before the first verification. */
export const findLatestAuditCheckpoint = async (db: CommonQueryMethods): Promise<AuditCheckpoint | null> => {
  const row = await db.maybeOne(sql.type(checkpointRow)`
    SELECT id, head_id, head_hash, full_check, key_id, mac FROM public.governance_audit_checkpoints ORDER BY id DESC LIMIT 1
  `);
  return row === null
    ? null
    : { id: row.id, headId: row.head_id, headHash: row.head_hash, fullCheck: row.full_check, keyId: row.key_id, mac: row.mac };
};

/** Records the head a verification run found intact, MAC'd with the signing key. */
export const recordAuditCheckpoint = async (
  db: CommonQueryMethods,
  keyring: AuditKeyring,
  head: { headId: number; headHash: string; fullCheck: boolean },
): Promise<AuditCheckpoint> => {
  const key = keyring.signing;
  const mac = hmacHex(key, macText(head));
  const row = await db.one(sql.type(checkpointRow)`
    INSERT INTO public.governance_audit_checkpoints (head_id, head_hash, full_check, key_id, mac)
    VALUES (${head.headId}, ${head.headHash}, ${head.fullCheck}, ${key.id}, ${mac})
    RETURNING id, head_id, head_hash, full_check, key_id, mac
  `);
  return { id: row.id, headId: row.head_id, headHash: row.head_hash, fullCheck: row.full_check, keyId: row.key_id, mac: row.mac };
};
