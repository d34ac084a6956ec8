/** The faults a run injects, one at a time. */
export const FAULT_KINDS = {
  workerKill: 'worker-sigkill',
  workerFreeze: 'worker-sigstop',
  apiKill: 'api-sigkill',
  databaseCut: 'database-cut',
  databaseTerminate: 'database-terminate',
  redisRestartAof: 'redis-restart-aof',
  redisRestartEmpty: 'redis-restart-empty',
} as const;
export type FaultKind = (typeof FAULT_KINDS)[keyof typeof FAULT_KINDS];

export const ALL_FAULT_KINDS: readonly FaultKind[] = Object.values(FAULT_KINDS);

/** What each fault does, for the report. */
export const FAULT_DESCRIPTIONS: Record<FaultKind, string> = {
  [FAULT_KINDS.workerKill]: 'SIGKILL of a worker, started again',
  [FAULT_KINDS.workerFreeze]: 'SIGSTOP of a worker for 10 s, then SIGCONT',
  [FAULT_KINDS.apiKill]: 'SIGKILL of an api, started again',
  [FAULT_KINDS.databaseCut]: 'PostgreSQL cut at the proxy (5-15 s at full scale), for one process or for all',
  [FAULT_KINDS.databaseTerminate]: "pg_terminate_backend of every session of the product's",
  [FAULT_KINDS.redisRestartAof]: 'Redis killed and started again from its append-only file',
  [FAULT_KINDS.redisRestartEmpty]: 'Redis killed and started again empty (append-only file and RDB deleted)',
};

/** One injected fault: its window (from the injection to the end of the fault, restarts included) and what it hit. */
export type FaultRecord = {
  kind: FaultKind;
  /** The process(es) or service it hit. */
  targets: string[];
  startedAt: number;
  endedAt: number;
  detail: string;
  /** Redis restarted empty: the accepted, unsettled jobs PostgreSQL held when Redis came back with nothing. */
  openAcceptances?: string[];
  /** A fault whose recovery failed (a process that did not come back in time): a finding. */
  error?: string;
};
