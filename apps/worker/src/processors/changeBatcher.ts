import {
  isSafetyAction,
  type BatchMemberOutcome,
  type GovernanceChangeExecution,
  type GovernanceChangeRequest,
} from '@valhalla/core';

/** Applies a batch (core's applyGovernanceBatch bound to a pool, unless a test or the benchmark injects another). */
export type BatchApplier = (requests: readonly GovernanceChangeRequest[]) => Promise<BatchMemberOutcome[]>;

export type ChangeBatcher = {
  /** Hands one change to the applier; resolves with its own execution once its batch committed. */
  submit(request: GovernanceChangeRequest): Promise<GovernanceChangeExecution>;
  /** Changes waiting for the next batch. */
  readonly pending: number;
};

type Waiting = {
  request: GovernanceChangeRequest;
  resolve: (execution: GovernanceChangeExecution) => void;
  reject: (error: unknown) => void;
};

/**
 * Group commit: one applier per process. Changes handed over while a batch is being committed wait, and the next
 * batch takes all of them (at most `maxBatch`); when engages or disables wait, the next batch is those alone: an
 * engage waits for at most the batch being committed, then commits in a small batch of its own, before that batch's
 * jobs are handed back. An idle change starts a batch of one on the next turn of the event loop (changes handed over
 * in the same turn share it). Each change settles with its own outcome: one member's failure is never its neighbours'.
 */
export const createChangeBatcher = (options: {
  apply: BatchApplier;
  maxBatch: number;
  /** Told the size of each batch before it is applied (a metric, a log line). */
  onBatch?: ((size: number) => void) | undefined;
}): ChangeBatcher => {
  const waiting: Waiting[] = [];
  let running = false;

  const takeBatch = (): Waiting[] => {
    // A waiting engage or disable gets a batch of safety actions only: a small transaction that commits at once,
    // instead of sharing the commit of up to maxBatch other changes. Otherwise arrival order.
    const safety = waiting.filter((w) => isSafetyAction(w.request.payload.action));
    const batch = (safety.length > 0 ? safety : waiting).slice(0, options.maxBatch);
    const taken = new Set(batch);
    const rest = waiting.filter((w) => !taken.has(w));
    waiting.length = 0;
    waiting.push(...rest);
    return batch;
  };

  const safetyWaiting = () => waiting.some((w) => isSafetyAction(w.request.payload.action));

  /** Runs the applier on a batch; returns how to hand each member its own outcome. */
  const applyBatch = async (batch: Waiting[]): Promise<() => void> => {
    options.onBatch?.(batch.length);
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

  const drain = async () => {
    // Outcomes of committed batches not yet handed back (see below), handed back newest first: the engage's batch
    // before the batches that waited for it.
    const held: (() => void)[] = [];
    const settleHeld = () => {
      for (const settle of held.splice(0).reverse()) settle();
    };
    try {
      while (waiting.length > 0) {
        held.push(await applyBatch(takeBatch()));
        // Handing back a batch's outcomes makes BullMQ acknowledge up to maxBatch jobs and fetch as many new ones, on
        // this event loop: work that would sit between the round trips of an engage's own transaction. So while an
        // engage or disable waits, the committed batch's jobs wait for it (a few milliseconds; they are committed
        // already), and the engage's transaction runs on a quiet event loop.
        if (safetyWaiting()) continue;
        settleHeld();
      }
    } finally {
      settleHeld();
      running = false;
    }
  };

  return {
    submit: (request) =>
      new Promise<GovernanceChangeExecution>((resolve, reject) => {
        waiting.push({ request, resolve, reject });
        if (running) return;
        running = true;
        setImmediate(() => void drain());
      }),
    get pending() {
      return waiting.length;
    },
  };
};
