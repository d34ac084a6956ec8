import { setImmediate } from 'node:timers/promises';
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { AUDIT_KEY_ROTATED_ACTION } from './appendAuditEntries.js';
import { checkpointMacValid, findLatestAuditCheckpoint, type AuditCheckpoint } from './auditCheckpoints.js';
import { createAuditKeyring, DEVELOPMENT_AUDIT_KEY, hmacHex, type AuditKeyring } from './auditKeyring.js';
import { runAuditCrossChecks, OUTSIDE_WRITE_ACTION } from './auditCrossChecks.js';
import { canonicalEntryText } from './canonicalEntry.js';

export { OUTSIDE_WRITE_ACTION };

/** The event action of the migration that introduced keyed entries; unkeyed rows before it carry the v1 hash. */
export const AUDIT_CHAIN_KEYED_ACTION = 'audit.chain_keyed';

export type AuditVerificationMode = 'full' | 'incremental';

/** A write made outside the product, as recorded by the trigger. */
type OutsideWrite = { id: number; table: string; databaseRole: string; applicationName: string | null; createdAt: string };

export type AuditChainReport = {
  mode: AuditVerificationMode;
  /** True when no problem was found. */
  intact: boolean;
  /** The first problem, naming the row or the missing range; null when intact. */
  problem: string | null;
  /** The first bad row's id (or the first id of a missing range). */
  firstBadId: number | null;
  /** The checkpoint an incremental run started from (and checked), or null. */
  fromCheckpoint: AuditCheckpoint | null;
  /** Rows whose hashes were recomputed. */
  checkedRows: number;
  /** The newest row seen, when the chain is intact up to it. */
  head: { id: number; hash: string } | null;
  /** Outside writes recorded since the last checkpoint (at most 20 listed; `outsideWriteCount` counts all). */
  outsideWrites: OutsideWrite[];
  outsideWriteCount: number;
};

/** One row of a batch, as readBatch selects it. */
const batchRow = z.object({
  id: z.number(),
  prev_hash: z.string().nullable(),
  hash: z.string(),
  key_id: z.string().nullable(),
  kind: z.string(),
  job_id: z.string().nullable(),
  action: z.string(),
  outcome: z.string().nullable(),
  actor: z.string(),
  reason: z.string(),
  before: z.unknown(),
  after: z.unknown(),
  unmet_conditions: z.array(z.string()),
  request_id: z.string().nullable(),
  created_at_text: z.string(),
  details: z.record(z.string(), z.unknown()),
  v1_ok: z.boolean().nullable(),
  v2_ok: z.boolean().nullable(),
});
type BatchRow = z.infer<typeof batchRow>;

// Unkeyed rows are rechecked in SQL (their hash functions live there); keyed rows only travel, the HMAC is computed
// here. Plain rows (the pool validates no row against the type): building one JSON text per batch in SQL instead
// cost PostgreSQL 6.5-7 s of CPU for 1,000,000 rows against 2.5 s, and saved this process under 1 s.
const readBatch = (db: CommonQueryMethods, afterId: number, limit: number): Promise<readonly BatchRow[]> =>
  db.any(sql.type(batchRow)`
    SELECT id, prev_hash, hash, key_id, kind, job_id, action, outcome, actor, reason, before, after, unmet_conditions,
           request_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_text,
           details,
           CASE WHEN key_id IS NULL THEN hash = public.governance_audit_row_hash(
             prev_hash, id, job_id, action, outcome, actor, reason, before, after, unmet_conditions, request_id,
             created_at) END AS v1_ok,
           CASE WHEN key_id IS NULL THEN hash = public.governance_audit_row_hash_v2(
             prev_hash, id, kind, job_id, action, outcome, actor, reason, before, after, unmet_conditions, request_id,
             created_at, details) END AS v2_ok
    FROM public.governance_audit_log WHERE id > ${afterId} ORDER BY id LIMIT ${limit}
  `);

const headRow = z.object({ max_id: z.number().nullable(), hash_at: z.string().nullable() });

const DEVELOPMENT_KEYRING = createAuditKeyring([DEVELOPMENT_AUDIT_KEY]);

/**
 * The newest checkpoint, unless it was signed with the public development key and this keyring does not hold that
 * key (a `migrate verify` run without AUDIT_HMAC_KEYS against this database): anyone can make such a checkpoint, so
 * it proves nothing and is ignored (the chain is checked from its first row), instead of failing every verification
 * from then on as forged. The next intact verification records a checkpoint with the real key.
 */
const trustedCheckpoint = (checkpoint: AuditCheckpoint | null, keyring: AuditKeyring): AuditCheckpoint | null => {
  if (checkpoint === null || keyring.byId.has(checkpoint.keyId)) return checkpoint;
  return checkpointMacValid(checkpoint, DEVELOPMENT_KEYRING) ? null : checkpoint;
};

/** Checks that the checkpoint's head row is still there, unchanged. Returns the problem or null. */
const checkCheckpointHead = async (
  db: CommonQueryMethods,
  checkpoint: AuditCheckpoint,
  keyring: AuditKeyring,
): Promise<{ problem: string; firstBadId: number } | null> => {
  if (!keyring.byId.has(checkpoint.keyId)) {
    return {
      problem: `checkpoint ${checkpoint.id} (head row ${checkpoint.headId}) is signed with key id ${checkpoint.keyId}, which AUDIT_HMAC_KEYS does not hold (a key removed from it, or a forged checkpoint)`,
      firstBadId: checkpoint.headId,
    };
  }
  if (!checkpointMacValid(checkpoint, keyring)) {
    return {
      problem: `checkpoint ${checkpoint.id} (head row ${checkpoint.headId}) has a MAC no key of AUDIT_HMAC_KEYS made: it was forged or edited`,
      firstBadId: checkpoint.headId,
    };
  }
  const row = await db.one(sql.type(headRow)`
    SELECT (SELECT max(id) FROM public.governance_audit_log) AS max_id,
           (SELECT hash FROM public.governance_audit_log WHERE id = ${checkpoint.headId}) AS hash_at
  `);
  const maxId = row.max_id ?? 0;
  if (row.hash_at === null && maxId < checkpoint.headId) {
    return {
      problem: `rows ${maxId + 1}..${checkpoint.headId} are missing: checkpoint ${checkpoint.id} saw row ${checkpoint.headId} as the head (the newest rows were deleted)`,
      firstBadId: maxId + 1,
    };
  }
  if (row.hash_at === null) {
    return { problem: `row ${checkpoint.headId} is missing: checkpoint ${checkpoint.id} verified it`, firstBadId: checkpoint.headId };
  }
  if (row.hash_at !== checkpoint.headHash) {
    return {
      problem: `row ${checkpoint.headId} changed since checkpoint ${checkpoint.id} verified it (its hash differs)`,
      firstBadId: checkpoint.headId,
    };
  }
  return null;
};

type ScanState = {
  prevId: number;
  prevHash: string | null;
  lastKeyId: string | null;
  upgraded: boolean;
};

/** Checks one row against the state before it. Returns the problem or null. */
const checkRow = (row: BatchRow, state: ScanState, keyring: AuditKeyring): string | null => {
  if (row.id !== state.prevId + 1) {
    return row.id === state.prevId + 2
      ? `row ${state.prevId + 1} is missing (deleted)`
      : `rows ${state.prevId + 1}..${row.id - 1} are missing (deleted)`;
  }
  if (row.prev_hash !== state.prevHash) {
    return `row ${row.id}: previous-hash link does not match row ${state.prevId} (a row before it was deleted, replaced or reordered)`;
  }
  if (row.key_id === null) {
    if (state.upgraded) {
      if (row.kind !== 'event' || row.action !== OUTSIDE_WRITE_ACTION) {
        return `row ${row.id} is not signed (no key id) but is not an outside-write event: written around the product`;
      }
      return row.v2_ok === true ? null : `row ${row.id}: stored hash does not match the row content`;
    }
    return row.v2_ok === true || (row.v1_ok === true && row.kind === 'change' && Object.keys(row.details).length === 0)
      ? null
      : `row ${row.id}: stored hash does not match the row content`;
  }
  const key = keyring.byId.get(row.key_id);
  if (key === undefined) return `row ${row.id} is signed with key id ${row.key_id}, which AUDIT_HMAC_KEYS does not hold`;
  if (state.lastKeyId !== row.key_id && !(row.kind === 'event' && row.action === AUDIT_KEY_ROTATED_ACTION)) {
    return `row ${row.id} is signed with key ${row.key_id} without a key-rotation entry before it`;
  }
  const expected = hmacHex(
    key,
    canonicalEntryText({
      id: row.id,
      prev_hash: row.prev_hash,
      key_id: row.key_id,
      kind: row.kind,
      job_id: row.job_id,
      action: row.action,
      outcome: row.outcome,
      actor: row.actor,
      reason: row.reason,
      before: row.before,
      after: row.after,
      unmet_conditions: row.unmet_conditions,
      request_id: row.request_id,
      created_at: row.created_at_text,
      details: row.details,
    }),
  );
  return expected === row.hash ? null : `row ${row.id}: keyed hash does not match the row content (edited, or rehashed without the key)`;
};

const DEFAULT_BATCH_SIZE = 5_000;
const YIELD_EVERY_ROWS = 1_000;
const LISTED_OUTSIDE_WRITES = 20;

/**
 * Verifies the audit chain. `incremental` starts at the newest checkpoint (after checking its MAC and that its head
 * row is still there, unchanged) and checks only newer rows; `full` checks every row from the first (and the newest
 * checkpoint too). Both then cross-check the log against what is recorded outside it (auditCrossChecks.ts: executed
 * jobs, the state rows, the chain head witness). Stops at the first problem.
 * Read-only: the caller records a checkpoint (recordAuditCheckpoint) when the report is intact.
 */
export const verifyAuditChain = async (
  db: CommonQueryMethods,
  keyring: AuditKeyring,
  options: { mode: AuditVerificationMode; batchSize?: number },
): Promise<AuditChainReport> => {
  const checkpoint = trustedCheckpoint(await findLatestAuditCheckpoint(db), keyring);
  const report: AuditChainReport = {
    mode: options.mode,
    intact: true,
    problem: null,
    firstBadId: null,
    fromCheckpoint: null,
    checkedRows: 0,
    head: null,
    outsideWrites: [],
    outsideWriteCount: 0,
  };
  const fail = (found: { problem: string; firstBadId: number }): AuditChainReport => ({
    ...report,
    intact: false,
    problem: found.problem,
    firstBadId: found.firstBadId,
    head: null,
  });

  if (checkpoint !== null) {
    const found = await checkCheckpointHead(db, checkpoint, keyring);
    if (found !== null) return fail(found);
  }
  const incremental = options.mode === 'incremental' && checkpoint !== null;
  if (incremental) report.fromCheckpoint = checkpoint;
  const state: ScanState = incremental
    ? { prevId: checkpoint.headId, prevHash: checkpoint.headHash, lastKeyId: null, upgraded: true }
    : { prevId: 0, prevHash: null, lastKeyId: null, upgraded: false };
  if (incremental) {
    state.lastKeyId = await db.maybeOneFirst(sql.type(z.object({ key_id: z.string().nullable() }))`
      SELECT key_id FROM public.governance_audit_log WHERE id <= ${checkpoint.headId} AND key_id IS NOT NULL
      ORDER BY id DESC LIMIT 1
    `);
  }
  const startId = state.prevId;
  const reportedUpTo = checkpoint?.headId ?? 0;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  let pending = readBatch(db, state.prevId, batchSize);
  for (;;) {
    const rows = await pending;
    const last = rows.at(-1);
    // The next batch is read while this one is checked, so PostgreSQL and this process work at the same time.
    const next = rows.length < batchSize || last === undefined ? null : readBatch(db, last.id, batchSize);
    // A problem below returns before `next` is awaited; its failure then has nobody to report to.
    next?.catch(() => undefined);
    for (let i = 0; i < rows.length; i += 1) {
      // The pool sends a query, and reads its answer, only on a turn of the event loop: without these yields the next
      // batch was asked for only after this one was checked, and PostgreSQL and this process took turns.
      if (i % YIELD_EVERY_ROWS === 0) await setImmediate();
      const row = rows[i] as BatchRow;
      const problem = checkRow(row, state, keyring);
      if (problem !== null) return fail({ problem, firstBadId: row.id === state.prevId + 1 ? row.id : state.prevId + 1 });
      if (row.kind === 'event' && row.action === AUDIT_CHAIN_KEYED_ACTION) state.upgraded = true;
      // Reported once: a full check re-reads older outside writes, which an earlier run already reported.
      if (row.key_id === null && row.action === OUTSIDE_WRITE_ACTION && row.kind === 'event' && row.id > reportedUpTo) {
        report.outsideWriteCount += 1;
        if (report.outsideWrites.length < LISTED_OUTSIDE_WRITES) {
          report.outsideWrites.push({
            id: row.id,
            table: typeof row.details.table === 'string' ? row.details.table : '',
            databaseRole: typeof row.details.database_role === 'string' ? row.details.database_role : row.actor,
            applicationName: typeof row.details.application_name === 'string' ? row.details.application_name : null,
            createdAt: row.created_at_text,
          });
        }
      }
      if (row.key_id !== null) state.lastKeyId = row.key_id;
      state.prevId = row.id;
      state.prevHash = row.hash;
      report.checkedRows += 1;
    }
    if (next === null) break;
    pending = next;
  }
  const crossCheck = await runAuditCrossChecks(db, startId);
  if (crossCheck !== null) return fail(crossCheck);
  report.head = state.prevHash === null ? null : { id: state.prevId, hash: state.prevHash };
  return report;
};
