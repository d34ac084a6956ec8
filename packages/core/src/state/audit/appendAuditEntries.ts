import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { AUDIT_KINDS, auditEntryRow, type AuditEntry, type ChangeOutcome, type StateSnapshot } from '@valhalla/contract';
import { hmacHex, type AuditKeyring } from './auditKeyring.js';
import { canonicalEntryText, type CanonicalFields } from './canonicalEntry.js';

/** What a writer hands to the append function: a change (replays to the state) or an event. */
export type AuditEntryInput =
  | {
      kind: typeof AUDIT_KINDS.change;
      jobId: string | null;
      action: string;
      outcome: ChangeOutcome;
      actor: string;
      reason: string;
      before: StateSnapshot;
      after: StateSnapshot;
      unmet?: readonly string[] | undefined;
      requestId?: string | null | undefined;
      details?: Record<string, unknown> | undefined;
    }
  | {
      kind: typeof AUDIT_KINDS.event;
      /** Unique across the log when set (e.g. `change-request:<id>:approve:<actor>`), so a re-run writes once. */
      jobId?: string | null | undefined;
      action: string;
      actor: string;
      reason: string;
      before?: Record<string, unknown> | undefined;
      after?: Record<string, unknown> | undefined;
      requestId?: string | null | undefined;
      details?: Record<string, unknown> | undefined;
    };

/** The newest row of the chain as read under the chain lock, and the transaction's time in canonical text form. */
export type AuditChainHead = { id: number; hash: string | null; keyId: string | null; now: string };

/** A row ready to insert: every column given, its keyed hash computed. */
export type SignedAuditRow = CanonicalFields & { hash: string };

/** The audit action recorded when the signing key changes (first keyed entry, or a rotation). */
export const AUDIT_KEY_ROTATED_ACTION = 'audit.key_rotated';

const chainHead = z.object({
  head_id: z.number().nullable(),
  head_hash: z.string().nullable(),
  head_key_id: z.string().nullable(),
  now_text: z.string(),
});

/**
 * Columns that take the chain lock and read the head, for embedding in a statement a writer already runs
 * (`SELECT …, ${CHAIN_HEAD_COLUMNS} FROM … CROSS JOIN ${CHAIN_HEAD_SOURCE}`) so appending costs no extra round trip.
 * The lock is held to the end of the transaction: take it after any row locks the transaction needs (the
 * outside-write trigger takes row locks first, then this lock).
 */
const CHAIN_HEAD_SOURCE = sql.fragment`public.governance_audit_chain_head() AS chain_head`;
const CHAIN_HEAD_COLUMNS = sql.fragment`chain_head.head_id, chain_head.head_hash, chain_head.head_key_id, chain_head.now_text`;

export const toChainHead = (row: { head_id: number | null; head_hash: string | null; head_key_id: string | null; now_text: string }): AuditChainHead => ({
  id: row.head_id ?? 0,
  hash: row.head_hash,
  keyId: row.head_key_id,
  now: row.now_text,
});

/** Takes the chain lock and reads the head in its own statement (for writers with no statement to fold it into). */
export const readAuditChainHead = async (tx: CommonQueryMethods): Promise<AuditChainHead> =>
  toChainHead(await tx.one(sql.type(chainHead)`SELECT ${CHAIN_HEAD_COLUMNS} FROM ${CHAIN_HEAD_SOURCE}`));

const toFields = (entry: AuditEntryInput): Omit<CanonicalFields, 'id' | 'prev_hash' | 'key_id' | 'created_at'> =>
  entry.kind === AUDIT_KINDS.change
    ? {
        kind: entry.kind,
        job_id: entry.jobId,
        action: entry.action,
        outcome: entry.outcome,
        actor: entry.actor,
        reason: entry.reason,
        before: entry.before,
        after: entry.after,
        unmet_conditions: [...(entry.unmet ?? [])],
        request_id: entry.requestId ?? null,
        details: entry.details ?? {},
      }
    : {
        kind: entry.kind,
        job_id: entry.jobId ?? null,
        action: entry.action,
        outcome: null,
        actor: entry.actor,
        reason: entry.reason,
        before: entry.before ?? {},
        after: entry.after ?? {},
        unmet_conditions: [],
        request_id: entry.requestId ?? null,
        details: entry.details ?? {},
      };

/**
 * Gives each entry its id, previous hash and keyed hash, in order after `head`. When the signing key differs from the
 * key of the newest signed row (the first signed entry, or a rotation), an `audit.key_rotated` event signed with the
 * new key comes first, so the change of key is on the record. Pure: no database work.
 * @returns every row to insert (rotation event included) and the ids of `entries`, in their order.
 */
export const signAuditEntries = (
  head: AuditChainHead,
  entries: readonly AuditEntryInput[],
  keyring: AuditKeyring,
): { rows: SignedAuditRow[]; ids: number[] } => {
  const key = keyring.signing;
  const inputs: AuditEntryInput[] = [];
  if (entries.length > 0 && head.keyId !== key.id) {
    inputs.push({
      kind: AUDIT_KINDS.event,
      action: AUDIT_KEY_ROTATED_ACTION,
      actor: 'system',
      reason: head.keyId === null ? `audit entries are signed with key ${key.id}` : `signing key changed from ${head.keyId} to ${key.id}`,
      details: { from: head.keyId, to: key.id },
    });
  }
  inputs.push(...entries);
  const rows: SignedAuditRow[] = [];
  let prevHash = head.hash;
  let id = head.id;
  for (const input of inputs) {
    id += 1;
    const fields: CanonicalFields = { ...toFields(input), id, prev_hash: prevHash, key_id: key.id, created_at: head.now };
    const hash = hmacHex(key, canonicalEntryText(fields));
    rows.push({ ...fields, hash });
    prevHash = hash;
  }
  return { rows, ids: rows.slice(rows.length - entries.length).map((row) => row.id) };
};

/**
 * One set-based INSERT of signed rows (the rows travel as one jsonb parameter), for use on its own or as a
 * data-modifying CTE in a writer's statement. The chain trigger keeps the given id, prev_hash and hash of keyed rows.
 */
export const insertSignedAuditRows = (rows: readonly SignedAuditRow[]) => sql.fragment`
  INSERT INTO public.governance_audit_log
    (id, prev_hash, hash, key_id, created_at, kind, job_id, action, outcome, actor, reason, before, after,
     unmet_conditions, request_id, details)
  SELECT r.id, r.prev_hash, r.hash, r.key_id, r.created_at::timestamptz, r.kind, r.job_id, r.action, r.outcome, r.actor,
         r.reason, r.before, r.after, ARRAY(SELECT jsonb_array_elements_text(r.unmet_conditions)), r.request_id, r.details
  FROM jsonb_to_recordset(${sql.jsonb(rows)}) AS r(
    id BIGINT, prev_hash TEXT, hash TEXT, key_id TEXT, created_at TEXT, kind TEXT, job_id TEXT, action TEXT,
    outcome TEXT, actor TEXT, reason TEXT, before JSONB, after JSONB, unmet_conditions JSONB, request_id TEXT,
    details JSONB)
  ORDER BY r.id
`;

export const AUDIT_COLUMNS = sql.fragment`
  id, kind, job_id, action, outcome, actor, reason, before, after, unmet_conditions, request_id, created_at, prev_hash,
  hash, key_id, details
`;

/**
 * THE audit append: every writer (governance changes, change requests, approvals, queue pauses, stamp/repair, drift,
 * job retries) records through this function, so every entry is signed and chained the same way. Set-based: all
 * entries in one INSERT. Must run inside the writer's transaction. Pass `head` when the transaction already read it
 * (CHAIN_HEAD_COLUMNS folded into an earlier statement, e.g. the one that locks the governance rows); otherwise it is
 * read here under the chain lock (one more statement).
 * @returns the inserted entries of `entries`, in order (a key-rotation event written before them is not returned).
 * @throws DatabaseConflictError (via the transaction runner) when an entry's job_id is already in the log.
 */
export const appendAuditEntries = async (
  tx: CommonQueryMethods,
  entries: readonly AuditEntryInput[],
  keyring: AuditKeyring,
  head?: AuditChainHead,
): Promise<AuditEntry[]> => {
  if (entries.length === 0) return [];
  const { rows, ids } = signAuditEntries(head ?? (await readAuditChainHead(tx)), entries, keyring);
  const wanted = new Set(ids);
  const inserted = await tx.any(sql.type(auditEntryRow)`
    WITH inserted AS (${insertSignedAuditRows(rows)} RETURNING ${AUDIT_COLUMNS})
    SELECT * FROM inserted ORDER BY id
  `);
  return inserted.filter((entry) => wanted.has(entry.id));
};
