import { type BatchMemberOutcome, type BatchOptions, type GovernanceChangeExecution, type GovernanceChangeRequest } from '@valhalla/core';
import { isSafetyAction } from '@valhalla/contract';

/** Applies a batch (core's applyGovernanceBatch bound to a pool, unless a test or the benchmark injects another). */
export type BatchApplier = (requests: readonly GovernanceChangeRequest[], options: BatchOptions) => Promise<BatchMemberOutcome[]>;

export type ChangeBatcher = {
  /** Hands one change to the applier; resolves with its own execution once its batch committed. */
  submit(request: GovernanceChangeRequest): Promise<GovernanceChangeExecution>;
  /** Told when BullMQ acknowledged a job (completed or failed): held batches wait for the engages' acks. */
  acknowledged(jobId: string): void;
  /** Changes waiting for the next batch. */
  readonly pending: number;
};

/** Longest wait of held batches for the acknowledgement of the engages applied after them. */
const ACK_WAIT_MS = 50;

type Waiting = {
  request: GovernanceChangeRequest;
  resolve: (execution: GovernanceChangeExecution) => void;
  reject: (error: unknown) => void;
};

/**
 * Group commit: one applier per process. Changes handed over while a batch is being committed wait, and the next
 * batch takes all of them (at most `maxBatch`). Engages and disables never wait in that line: they start a batch of
 * their own at once, even while another batch is being committed. Its transaction then queues for the row-1 lock in
 * PostgreSQL right behind that batch's (no other batch starts meanwhile), so an engage waits for at most the batch
 * being committed, and it proceeds the moment that batch commits, without a round trip through this event loop. The
 * jobs of batches that committed meanwhile are handed back after the engage's. An idle change starts a batch of one
 * on the next turn of the event loop (changes handed over in the same turn share it). Each change settles with its
 * own outcome: one member's failure is never its neighbours'.
 */
export const createChangeBatcher = (options: {
  /** The applier with its batch-wide options bound (createWorkerApp binds the migration head, keyring, approvals). */
  apply: (requests: readonly GovernanceChangeRequest[]) => Promise<BatchMemberOutcome[]>;
  maxBatch: number;
}): ChangeBatcher => {
  const waiting: Waiting[] = [];
  /** A batch of other changes is being applied. */
  let changesInFlight = false;
  /** A batch of engages and disables is being applied. */
  let safetyInFlight = false;
  let scheduled = false;
  // Outcomes of committed batches not yet handed back: handing back a batch makes BullMQ acknowledge up to maxBatch
  // jobs and fetch as many new ones, on this event loop and in Redis (which answers a burst of scripts before any
  // reply), work that would sit between an engage's own round trips and in front of its acknowledgement. So while an
  // engage or disable is being applied and acknowledged, the batch that committed before it waits (a few
  // milliseconds; it is committed already) and is handed back after it.
  const held: (() => void)[] = [];
  /** Job ids of applied engages and disables whose acknowledgement by BullMQ is awaited. */
  const unacknowledged = new Set<string>();
  let ackTimer: NodeJS.Timeout | undefined;
  const releaseHeld = () => {
    clearTimeout(ackTimer);
    ackTimer = undefined;
    unacknowledged.clear();
    for (const settle of held.splice(0)) settle();
    pump();
  };

  const isSafety = (w: Waiting) => isSafetyAction(w.request.payload.action);

  /** Takes up to maxBatch waiting changes that `pick` accepts, in arrival order. */
  const take = (pick: (w: Waiting) => boolean): Waiting[] => {
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    for (const w of waiting) (batch.length < options.maxBatch && pick(w) ? batch : rest).push(w);
    waiting.length = 0;
    waiting.push(...rest);
    return batch;
  };

  /** Runs the applier on a batch; resolves with how to hand each member its own outcome. */
  const applyBatch = async (batch: Waiting[]): Promise<() => void> => {
    try {
      const outcomes = await options.apply(batch.map((w) => w.request));
      return () =>
        batch.forEach((w, i) => {
          const outcome = outcomes[i];
          if (outcome === undefined) w.reject(new Error('the batch applier returned no outcome for a member'));
          else if (outcome.ok) w.resolve(outcome.execution);
          else w.reject(outcome.error);
        });
    } catch (error) {
      return () => {
        for (const w of batch) w.reject(error);
      };
    }
  };

  function pump() {
    scheduled = false;
    if (!safetyInFlight && waiting.some(isSafety)) {
      safetyInFlight = true;
      const batch = take(isSafety);
      void applyBatch(batch).then((settle) => {
        safetyInFlight = false;
        for (const w of batch) unacknowledged.add(w.request.jobId);
        settle();
        // Bounded: a member that is not acknowledged (moved to delayed for a transient retry) must not hold the rest.
        clearTimeout(ackTimer);
        ackTimer = setTimeout(releaseHeld, ACK_WAIT_MS);
        pump();
      });
    }
    // No other batch while engages are applied or acknowledged: its lock request would queue ahead of a later
    // engage's, and its acknowledgements in front of this one's.
    if (!changesInFlight && !safetyInFlight && ackTimer === undefined && waiting.length > 0) {
      changesInFlight = true;
      void applyBatch(take(() => true)).then((settle) => {
        changesInFlight = false;
        if (safetyInFlight || ackTimer !== undefined || waiting.some(isSafety)) held.push(settle);
        else settle();
        pump();
      });
    }
  }

  return {
    submit: (request) =>
      new Promise<GovernanceChangeExecution>((resolve, reject) => {
        waiting.push({ request, resolve, reject });
        if (scheduled) return;
        scheduled = true;
        setImmediate(pump);
      }),
    acknowledged: (jobId) => {
      if (!unacknowledged.delete(jobId) || unacknowledged.size > 0 || safetyInFlight) return;
      releaseHeld();
    },
    get pending() {
      return waiting.length;
    },
  };
};
