import type { DatabasePool } from 'slonik';
import { runInTransaction } from '../db/runInTransaction.js';
import { isRetryableDatabaseError } from '../db/sqlstate.js';
import { InvalidPayloadError } from '../errors/index.js';
import {
  CHANGE_OUTCOMES,
  GOVERNANCE_ACTIONS,
  JOB_CATALOG,
  JOB_NAMES,
  QUEUES,
  SUPERSESSION_CONDITION,
  isSafetyAction,
  type ChangeResult,
  type GoLiveChangePayload,
  type StateSnapshot,
} from '@valhalla/contract';
import type { AuditKeyring } from './audit/auditKeyring.js';
import { findApprovalsOfChanges } from './changeRequests/queries.js';
import { lockChangeContext, type MemberContext } from './queries/changeContext.js';
import { preemptIdleLockHolders } from './queries/preemptIdleLockHolders.js';
import { commitChanges, type BatchRowWrites, type DecidedChange } from './queries/commitChanges.js';
import { decideChange, type ChangeDecision, type ChangeOrder, type SafetyWatermarks } from './rules/rules.js';

export type GovernanceChangeRequest = {
  jobId: string;
  /**
   * The BullMQ job's creation time (job.timestamp): the same on every delivery of one job, and part of its identity
   * (see resolveMember). A job added straight to a queue is ordered by it, clamped to the database's clock. Undefined
   * for a change applied in the request: the id alone is the identity there.
   */
  jobCreatedAt?: number | undefined;
  /** The queue the job came from (recorded with the execution); `governance` by default. */
  queue?: string | undefined;
  payload: GoLiveChangePayload;
  /**
   * Accepted now, in this transaction: the api applies an engage or a disable in the request. It takes an acceptance
   * number under the row-1 lock, its place in the order. At most one such member per batch.
   */
  acceptNow?: boolean | undefined;
};

/** What holds for a whole batch (not per member). */
export type BatchOptions = {
  /** Signs the audit entries (its signing key). */
  keyring: AuditKeyring;
  /** The migration head of the code that applies the batch: go-live enable needs a passed verification of it. */
  migrationHead: string;
  /** APPROVALS_REQUIRED (default 1): above 1, an enable or release must be the job of an approved change request. */
  approvalsRequired?: number | undefined;
  /**
   * CHANGE_MAX_AGE_SECONDS in ms: a change the job catalog lets expire, not applied this long after it was accepted
   * (or, for a job straight from a queue, created), is rejected as EXPIRED. Undefined: nothing expires.
   */
  changeMaxAgeMs?: number | undefined;
};

/** The unmet condition of a voided change: the api answered 503 without learning whether its acceptance committed. */
const ENQUEUE_CONDITION = 'enqueue_confirmed';

/** The unmet condition an EXPIRED rejection records in the audit entry. */
export const EXPIRED_CONDITION = 'change_max_age';

export type GovernanceChangeExecution = { result: ChangeResult; replayed: boolean };

/** Each member's own end: its execution, or the error that failed it (and only it). */
export type BatchMemberOutcome = { ok: true; execution: GovernanceChangeExecution } | { ok: false; error: unknown };

// NUL and unpaired surrogates cannot be stored in PostgreSQL text (or are silently replaced): a member carrying one
// would fail the batch's single write statement, so it is failed alone before anything is written.
const hasUnstorableText = (value: string): boolean => value.includes('\u0000') || !value.isWellFormed();

const unstorableFields = (value: unknown, path: string): string[] => {
  if (typeof value === 'string') return hasUnstorableText(value) ? [path] : [];
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, inner]) => unstorableFields(inner, path === '' ? key : `${path}.${key}`));
  }
  return [];
};

const checkStorable = (request: GovernanceChangeRequest): InvalidPayloadError | undefined => {
  const fields = unstorableFields({ jobId: request.jobId, ...request.payload }, '');
  if (fields.length === 0) return undefined;
  return new InvalidPayloadError(fields.map((field) => ({ field, message: 'contains a NUL character or an unpaired surrogate' })));
};

/** Safety actions first, then the order given (stable): an engage in a batch is never decided after a release. */
const applyOrder = (requests: readonly GovernanceChangeRequest[]): number[] =>
  requests
    .map((request, index) => ({ index, safety: isSafetyAction(request.payload.action) }))
    .sort((a, b) => Number(b.safety) - Number(a.safety) || a.index - b.index)
    .map((entry) => entry.index);

type Planned =
  | { kind: 'replayed'; result: ChangeResult }
  | { kind: 'decided'; change: DecidedChange }
  | { kind: 'duplicate'; key: string };

/** What the planner knows of each member, read under the lock (see lockChangeContext). */
type PlannedMember = {
  request: GovernanceChangeRequest;
  context: MemberContext;
  /** Its place in the order (see ChangeOrder); undefined when unknown (never superseded, never expired). */
  order: ChangeOrder | undefined;
  /** When its age starts (ms, the database's clock). */
  agedFromMs: number | undefined;
};

/** Why a member is rejected whatever the rules say: voided by the api, or past its age. */
const forcedRejection = (member: PlannedMember, nowMs: number, changeMaxAgeMs: number | undefined) => {
  if (member.context.accepted?.voided === true) return { condition: ENQUEUE_CONDITION, as: 'ENQUEUE_UNCONFIRMED' as const };
  const expires = changeMaxAgeMs !== undefined && JOB_CATALOG[JOB_NAMES.goLiveChange].expires(member.request.payload);
  if (expires && member.agedFromMs !== undefined && nowMs > member.agedFromMs + changeMaxAgeMs) {
    return { condition: EXPIRED_CONDITION, as: 'EXPIRED' as const };
  }
  return undefined;
};

/**
 * Decides every member, in order, on the state the previous one left (the same rules as one change at a time), and
 * collects the final row writes. Pure: no I/O.
 */
const planBatch = (
  members: readonly PlannedMember[],
  start: { snapshot: StateSnapshot; watermarks: SafetyWatermarks },
  verificationPassed: boolean,
  nowMs: number,
  /** Job ids of members that need an approved change request and are not one (four-eyes). */
  unapproved: ReadonlySet<string>,
  changeMaxAgeMs: number | undefined,
): { planned: Planned[]; writes: BatchRowWrites } => {
  let state = start.snapshot;
  let watermarks = start.watermarks;
  let goLive: BatchRowWrites['goLive'] = null;
  let metadataWritten = false;
  let completedNow = false;
  const seen = new Set<string>();
  const planned = members.map((member): Planned => {
    const { request, context } = member;
    if (context.executed !== null) return { kind: 'replayed', result: context.executed };
    // Two deliveries of one job in the same batch: the second answers with the first's result, as it would after.
    if (seen.has(context.executionKey)) return { kind: 'duplicate', key: context.executionKey };
    seen.add(context.executionKey);

    const { payload } = request;
    // Checked under the lock, after the replay lookup: a change that committed in time keeps its result whenever it
    // is asked again, and one that waited out an outage past its age is rejected instead of landing late.
    const forced = forcedRejection(member, nowMs, changeMaxAgeMs);
    const decision: ChangeDecision = forced
      ? { outcome: CHANGE_OUTCOMES.rejected, unmet: [forced.condition], after: state, watermarks }
      : decideChange({
          action: payload.action,
          before: state,
          metadata: payload.action === GOVERNANCE_ACTIONS.metadataUpdate ? payload.metadata : undefined,
          verificationPassed,
          order: member.order,
          watermarks,
          approvalMissing: unapproved.has(request.jobId),
        });
    const rejectedAs: ChangeResult['rejectedAs'] = forced?.as ?? (decision.unmet.includes(SUPERSESSION_CONDITION) ? 'SUPERSEDED' : undefined);
    const result = {
      outcome: decision.outcome,
      action: payload.action,
      before: state,
      after: decision.after,
      unmet: decision.unmet,
      ...(request.jobCreatedAt === undefined ? {} : { jobCreatedAt: request.jobCreatedAt }),
      ...(rejectedAs === undefined ? {} : { rejectedAs }),
    };
    if (decision.outcome === CHANGE_OUTCOMES.applied) {
      if (payload.action === GOVERNANCE_ACTIONS.metadataUpdate) {
        metadataWritten = true;
        // completed_at is set when backend_complete turns true (all members share the transaction's now()).
        if (!state.backend_complete && decision.after.backend_complete) completedNow = true;
      } else {
        goLive = { after: decision.after, actor: payload.actor, reason: payload.reason };
      }
    }
    watermarks = decision.watermarks;
    state = decision.after;
    return {
      kind: 'decided',
      change: {
        jobId: context.executionKey,
        queue: request.queue ?? QUEUES.governance,
        jobName: JOB_NAMES.goLiveChange,
        actor: payload.actor,
        reason: payload.reason,
        requestId: payload.requestId ?? null,
        result,
        keyClaim: 'idempotency' in payload ? payload.idempotency : undefined,
      },
    };
  });
  return {
    planned,
    writes: {
      goLive: goLive === null ? null : { ...(goLive as NonNullable<BatchRowWrites['goLive']>), after: state },
      watermarks: watermarks === start.watermarks ? null : watermarks,
      metadata: metadataWritten ? { after: state, completedNow: completedNow && state.backend_complete } : null,
    },
  };
};

/**
 * A member's place in the order and the start of its age. Accepted now (in the request): the number taken under the
 * lock, and the database's clock. Accepted by the api: its acceptance number and creation time (a four-eyes change
 * counts from when it was requested), its age from its acceptance. Straight from a queue: its job timestamp, clamped to
 * the database's clock (a producer clock that runs ahead, or a timestamp set in the future, must not move the
 * watermarks there or keep the change from expiring); the job of a change request approved by older code, from the
 * request's time.
 */
const orderOf = (
  request: GovernanceChangeRequest,
  context: MemberContext,
  batch: { nowMs: number; newSeq: number | null; requestedAtMs: ReadonlyMap<string, number> },
): Pick<PlannedMember, 'order' | 'agedFromMs'> => {
  if (request.acceptNow === true) {
    if (batch.newSeq === null) throw new Error('a change accepted in the request got no acceptance number');
    return { order: { seq: batch.newSeq, ms: batch.nowMs }, agedFromMs: batch.nowMs };
  }
  if (context.accepted !== null) {
    return { order: { seq: context.accepted.seq, ms: context.accepted.createdMs }, agedFromMs: context.accepted.acceptedMs };
  }
  if (request.jobCreatedAt === undefined) return { order: undefined, agedFromMs: undefined };
  const created = Math.min(request.jobCreatedAt, batch.nowMs);
  const requestedAt = batch.requestedAtMs.get(request.jobId);
  return { order: { ms: requestedAt === undefined ? created : Math.min(requestedAt, created) }, agedFromMs: created };
};

/** How long an engage or a disable waits for the row-1 lock before it looks for a stalled holder to preempt. */
const PREEMPT_AFTER_MS = 100;
/**
 * How long a holder must have sat idle in its transaction to be preempted. A live batch is idle for a few ms between
 * its statements, but a loaded machine can leave a healthy process unscheduled for a couple of hundred: 200 ms here
 * preempted healthy batches in the fault run. A frozen holder is still ended within half a second.
 */
const PREEMPT_IDLE_MS = 400;

/**
 * While `work` runs, every PREEMPT_AFTER_MS: end the sessions that hold go_live_state idle in a transaction (see
 * preemptIdleLockHolders), on another connection of the pool. A stalled holder then costs an engage a few hundred
 * milliseconds, not idle_in_transaction_session_timeout.
 */
const withPreemption = async <T>(pool: DatabasePool, work: Promise<T>): Promise<T> => {
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    void preemptIdleLockHolders(pool, PREEMPT_IDLE_MS)
      .catch(() => 0)
      .then(() => {
        if (!done) timer = setTimeout(tick, PREEMPT_AFTER_MS);
      });
  };
  timer = setTimeout(tick, PREEMPT_AFTER_MS);
  try {
    return await work;
  } finally {
    done = true;
    clearTimeout(timer);
  }
};

/**
 * One transaction for the whole batch: one statement that locks row 1 and reads the members' stored executions and
 * acceptances, the watermarks, the audit chain head and the database's clock after the lock; decisions in TypeScript;
 * one write statement; one commit. READ COMMITTED (the pool's default, see createDatabasePool; the context function
 * refuses anything else).
 * @returns each member's execution in the order of `ordered`.
 */
const runBatch = async (
  pool: DatabasePool,
  ordered: readonly GovernanceChangeRequest[],
  options: BatchOptions,
): Promise<GovernanceChangeExecution[]> =>
  runInTransaction(pool, async (tx) => {
    const acceptNow = ordered.filter((request) => request.acceptNow === true).length;
    if (acceptNow > 1) throw new Error('a batch may hold at most one change accepted in the request');
    const context = await lockChangeContext(tx, {
      members: ordered.map((request) => ({ jobId: request.jobId, jobCreatedAt: request.jobCreatedAt })),
      migrationHead: options.migrationHead,
      allocateSeq: acceptNow === 1,
    });
    // Four-eyes, under the lock and for the whole batch in one query (none when APPROVALS_REQUIRED is 1): the one
    // place the worker checks that an enable or release is the job of an approved change request.
    const { unapproved, requestedAtMs } = await findApprovalsOfChanges(tx, ordered, options.approvalsRequired ?? 1);
    const members = ordered.map((request, position): PlannedMember => {
      const memberContext = context.members[position];
      if (memberContext === undefined) throw new Error('batch context is missing a member');
      return { request, context: memberContext, ...orderOf(request, memberContext, { ...context, requestedAtMs }) };
    });
    const { planned, writes } = planBatch(
      members,
      { snapshot: context.snapshot, watermarks: context.watermarks },
      context.verificationPassed,
      context.nowMs,
      unapproved,
      options.changeMaxAgeMs,
    );
    const decided = planned.flatMap((plan) => (plan.kind === 'decided' ? [plan.change] : []));
    const auditIds =
      decided.length === 0 ? new Map<string, number>() : await commitChanges(tx, decided, writes, { head: context.auditHead, keyring: options.keyring });
    const resultOf = (change: DecidedChange): ChangeResult => {
      const auditId = auditIds.get(change.jobId);
      if (auditId === undefined) throw new Error(`the batch write returned no audit id for ${change.jobId}`);
      return { ...change.result, auditId };
    };
    const byKey = new Map(decided.map((change) => [change.jobId, resultOf(change)]));
    return planned.map((plan): GovernanceChangeExecution => {
      if (plan.kind === 'replayed') return { result: plan.result, replayed: true };
      if (plan.kind === 'duplicate') {
        const result = byKey.get(plan.key);
        if (result === undefined) throw new Error(`duplicate batch member ${plan.key} has no first execution`);
        return { result, replayed: true };
      }
      return { result: resultOf(plan.change), replayed: false };
    });
  });

/**
 * Applies a batch of governance changes, each exactly once per identity (job id, and creation time for reused ids),
 * in one transaction: safety actions (engage, disable) first, then the given order; each decided by the state rules
 * on the state the previous member left, with its own audit entry and executed-job record. The outcomes are those of
 * applying the same members one at a time in that order.
 *
 * A member fails alone: one whose text cannot be stored is failed before anything is written; when the batch's
 * statement fails for another reason (a constraint or trigger raising for one member), the batch is rolled back and
 * each member is applied in a transaction of its own, so only the offending one fails. A lost connection or
 * exhausted serialization retries fail every member with the RetryableDatabaseError (each is retried by its job).
 * A rejected change commits too (its audit entry and executed record); the caller turns it into a job failure.
 * @returns one outcome per request, in the order of `requests`.
 */
export const applyGovernanceBatch = async (
  pool: DatabasePool,
  requests: readonly GovernanceChangeRequest[],
  options: BatchOptions,
): Promise<BatchMemberOutcome[]> => {
  const outcomes: (BatchMemberOutcome | undefined)[] = requests.map((request) => {
    const invalid = checkStorable(request);
    return invalid === undefined ? undefined : { ok: false, error: invalid };
  });
  const order = applyOrder(requests).filter((index) => outcomes[index] === undefined);
  if (order.length === 0) return outcomes as BatchMemberOutcome[];
  const ordered = order.map((index) => requests[index] as GovernanceChangeRequest);
  try {
    const batch = runBatch(pool, ordered, options);
    // An engage or a disable may preempt a holder of row 1 that stalled in its transaction; nothing else does.
    const executions = ordered.some((request) => isSafetyAction(request.payload.action)) ? await withPreemption(pool, batch) : await batch;
    order.forEach((index, position) => {
      outcomes[index] = { ok: true, execution: executions[position] as GovernanceChangeExecution };
    });
  } catch (error) {
    if (ordered.length === 1 || isRetryableDatabaseError(error)) {
      for (const index of order) outcomes[index] = { ok: false, error };
    } else {
      // Which member made the statement fail is unknown: apply each alone, in the same order, so that only it fails.
      for (const index of order) {
        const [alone] = await applyGovernanceBatch(pool, [requests[index] as GovernanceChangeRequest], options);
        outcomes[index] = alone;
      }
    }
  }
  return outcomes as BatchMemberOutcome[];
};
