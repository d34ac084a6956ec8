import type { UnexpectedExit } from '../cluster/productProcess.js';
import type { FaultRecord } from '../faults/faultKinds.js';
import { checkResult, type CheckResult } from './checkResult.js';

import type { Backlog } from '../describeBacklog.js';

/** What draining the cluster after the faults found (and, when it did not drain, what was left). */
export type DrainOutcome = { drained: boolean; tookMs: number; openAcceptances: number; queuedJobs: number; backlog?: Backlog | { error: string } };

/**
 * The cluster itself held up: every fault ended with the cluster recovered, no product process exited without being
 * killed, and after the last fault every accepted job settled and the queues emptied within the bound.
 */
export const checkRunHealth = (faults: readonly FaultRecord[], exits: readonly UnexpectedExit[], drain: DrainOutcome, drainBoundMs: number): CheckResult => {
  const violations = [
    ...faults.filter((fault) => fault.error !== undefined).map((fault) => `after ${fault.kind} at ${new Date(fault.startedAt).toISOString()}: ${fault.error}`),
    ...exits.map((exit) => `${exit.process} exited on its own at ${new Date(exit.at).toISOString()} (code ${exit.code}, signal ${exit.signal})`),
    ...(drain.drained ? [] : [`not drained within ${drainBoundMs / 1000} s: ${drain.openAcceptances} accepted jobs unsettled, ${drain.queuedJobs} jobs still queued`]),
  ];
  return checkResult('cluster-recovered-and-drained', 'every fault recovered, no process exited unasked, everything drained within the bound', faults.length + 1, violations);
};
