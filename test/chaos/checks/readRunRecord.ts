import { listAuditEntriesInOrder, readGovernanceRows, snapshotOf, sql, type DatabasePool } from '../../../packages/core/src/index.js';
import { type AuditEntry, type StateSnapshot } from '../../../packages/contract/src/index.js';

export type ChangeEntry = Extract<AuditEntry, { kind: 'change' }>;

type AcceptanceRow = {
  jobId: string;
  queue: string;
  enqueueCount: number;
  acceptedAt: number;
  settledAt: number | null;
  settledAs: string | null;
  voided: boolean;
};

/** What PostgreSQL holds at the end of a run: the record every check reads. */
export type RunRecord = {
  /** Change entries, in chain order. */
  changes: ChangeEntry[];
  changesByJobId: Map<string, ChangeEntry[]>;
  changesByReason: Map<string, ChangeEntry[]>;
  /** Verification runs per job id. */
  verificationsByJobId: Map<string, number>;
  acceptances: AcceptanceRow[];
  acceptancesByJobId: Map<string, AcceptanceRow>;
  /** Row 1 of both tables now. */
  state: StateSnapshot;
};

type AcceptanceColumns = {
  job_id: string;
  queue: string;
  enqueue_count: number;
  accepted_ms: number;
  settled_ms: number | null;
  settled_as: string | null;
  voided: boolean;
};

const groupBy = <T>(items: readonly T[], key: (item: T) => string | null): Map<string, T[]> => {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === null) continue;
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return groups;
};

/** Reads the audit log, verification runs, acceptance records and row 1 (directly, not through a proxy). */
export const readRunRecord = async (pool: DatabasePool): Promise<RunRecord> => {
  const changes = (await listAuditEntriesInOrder(pool)).filter((entry): entry is ChangeEntry => entry.kind === 'change');
  const verificationRows = (await pool.any(sql.unsafe`
    SELECT job_id, count(*)::int AS runs FROM public.verification_runs WHERE job_id IS NOT NULL GROUP BY job_id
  `)) as readonly { job_id: string; runs: number }[];
  const acceptances = (
    (await pool.any(sql.unsafe`
      SELECT job_id, queue, enqueue_count,
             (extract(epoch FROM accepted_at) * 1000)::float8 AS accepted_ms,
             (extract(epoch FROM settled_at) * 1000)::float8 AS settled_ms,
             settled_as, voided_at IS NOT NULL AS voided
      FROM public.governance_accepted_jobs ORDER BY seq
    `)) as readonly AcceptanceColumns[]
  ).map((row) => ({
    jobId: row.job_id,
    queue: row.queue,
    enqueueCount: row.enqueue_count,
    acceptedAt: row.accepted_ms,
    settledAt: row.settled_ms,
    settledAs: row.settled_as,
    voided: row.voided,
  }));
  const rows = await readGovernanceRows(pool);
  if (rows === null) throw new Error('row 1 of go_live_state or system_metadata is missing');
  return {
    changes,
    changesByJobId: groupBy(changes, (entry) => entry.job_id),
    changesByReason: groupBy(changes, (entry) => entry.reason),
    verificationsByJobId: new Map(verificationRows.map((row) => [row.job_id, row.runs])),
    acceptances,
    acceptancesByJobId: new Map(acceptances.map((row) => [row.jobId, row])),
    state: snapshotOf(rows),
  };
};
