import type { CheckResult } from '../checks/checkResult.js';
import type { DrainOutcome } from '../checks/checkRunHealth.js';
import type { LatencyRow, SlowEngage } from '../checks/engageLatency.js';
import type { PlainJobOutcomes } from '../checks/checkPlainJobs.js';
import type { ReconcilerFigures } from '../checks/reconcilerFigures.js';
import type { ChangeKind } from '../clients/changeMix.js';
import type { StartupExit, UnexpectedExit } from '../cluster/productProcess.js';
import type { FaultKind, FaultRecord } from '../faults/faultKinds.js';

/** How the HTTP requests of one kind ended (final answers; a keyed request's repeats are not counted apart). */
export type HttpTally = {
  requests: number;
  /** 200 (applied in the request, or a replay of an executed job). */
  ok200: number;
  /** 202 (accepted; for an engage or a disable: queued because PostgreSQL was unreachable). */
  accepted202: number;
  /** 503 answers that were final (requests without a key). */
  refused503: number;
  /** Any other final status. */
  other: number;
  /** No HTTP answer (requests without a key: a network error or a time-out). */
  noAnswer: number;
  /** Keyed requests still unanswered when the clients stopped. */
  gaveUp: number;
};

/** The JSON result file of a fault run. */
export type ChaosResult = {
  passed: boolean;
  violations: number;
  date: string;
  seed: number;
  settings: { minutes: number; faultScale: number; faultKinds: readonly FaultKind[]; keyedClients: number; unkeyedClients: number; plainJobsPerSecond: number };
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  database: { name: string; kept: boolean };
  durationsMs: { setup: number; faults: number; drain: number; total: number };
  faults: FaultRecord[];
  faultCounts: Record<FaultKind, number>;
  http: { byKind: Record<ChangeKind, HttpTally>; keyed: HttpTally; unkeyed: HttpTally; unkeyedNoAnswerExecuted: number; keyedRepeats: { noAnswer: number; serverError: number } };
  plain: PlainJobOutcomes;
  changeEntries: { total: number; applied: number; unchanged: number; rejected: number };
  checks: CheckResult[];
  engageLatency: LatencyRow[];
  engageAfterOutage: LatencyRow;
  slowestEngages: SlowEngage[];
  reconciler: ReconcilerFigures;
  drain: DrainOutcome;
  unexpectedExits: UnexpectedExit[];
  /** Processes that exited while starting (started again; not a violation: a platform restarts them too). */
  startupExits: StartupExit[];
  /** Where the product processes' logs were written. */
  logsDir: string;
};
