import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultKind, FaultRecord } from './faultKinds.js';
import { injectFault, type FaultContext } from './injectFault.js';

/**
 * Injects faults one at a time until `durationMs` has passed and every kind of `kinds` has happened at least once: in
 * rounds, each round every kind once in a random order, each fault 10-20 s (times the scale) after the previous one ended.
 * A fault the cluster did not recover from is recorded with its error, and the cluster is recovered before the next.
 * Reports each fault as it ends.
 */
export const runFaultSchedule = async (
  context: FaultContext,
  options: { durationMs: number; kinds: readonly FaultKind[]; onFault: (fault: FaultRecord) => void },
): Promise<FaultRecord[]> => {
  const faults: FaultRecord[] = [];
  const deadline = Date.now() + options.durationMs;
  const seen = new Set<FaultKind>();
  let round: FaultKind[] = [];
  const { signal, random, scale } = context;
  while (!signal.aborted && (Date.now() < deadline || seen.size < options.kinds.length)) {
    await sleep(Math.round(random.between(10_000, 20_000) * scale), undefined, { signal }).catch(() => undefined);
    if (signal.aborted) break;
    if (round.length === 0) round = random.shuffle(options.kinds);
    const kind = round.shift() as FaultKind;
    const startedAt = Date.now();
    let fault: FaultRecord;
    try {
      fault = await injectFault(kind, context);
    } catch (error) {
      fault = { kind, targets: [], startedAt, endedAt: Date.now(), detail: 'the cluster did not recover from it', error: error instanceof Error ? error.message : String(error) };
      await context.cluster.recover().catch(() => undefined);
    }
    seen.add(kind);
    faults.push(fault);
    options.onFault(fault);
  }
  return faults;
};
