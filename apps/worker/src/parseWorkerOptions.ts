import { ConfigError } from '@valhalla/core';
import { z } from 'zod';
import { parseFaultInjection, type FaultInjection } from './faultInjection.js';
import type { WorkerTuning } from './workerTuning.js';
import { DRIFT_ACTIONS, type DriftAction } from './createDriftHandler.js';

/**
 * Worker-only settings that are not part of the shared Config (packages do not read the environment):
 * - MIGRATIONS_DIR: where the revisions are (default: the repository's migrations/); tests point it at an edited copy.
 * - WORKER_LOCK_DURATION_MS / WORKER_STALLED_INTERVAL_MS / WORKER_MAX_STALLED_COUNT: BullMQ lock and stall detection;
 *   tests shorten them so a killed worker's jobs are redelivered in seconds rather than half a minute.
 * - RECONCILE_INTERVAL_MS / RECONCILE_GRACE_MS: how often one worker re-enqueues accepted jobs that Redis lost
 *   (default 2000), and how old an acceptance must be before it is checked (default 5000).
 * - WORKER_FAULT: TEST-ONLY fault injection (see faultInjection.ts). Inert when unset; refused in production.
 * - VERIFY_INTERVAL_SECONDS: the watchdog's period (default 900; 0 = off). DRIFT_ACTION: `alert` (default) or `engage`.
 * - VERIFY_API_TOKEN: an operator token the verification uses to probe the runbook status endpoint (check skipped
 *   without it).
 */
export type WorkerOptions = {
  readonly migrationsDir: string | undefined;
  readonly tuning: Partial<WorkerTuning>;
  readonly fault: FaultInjection | undefined;
  readonly verifyIntervalSeconds: number;
  readonly driftAction: DriftAction;
  readonly verifyApiToken: string | undefined;
};

const emptyToUndefined = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const optionalInt = (min: number, max: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().min(min).max(max).optional());

const workerEnvSchema = z.object({
  NODE_ENV: z.preprocess(emptyToUndefined, z.string().optional()),
  MIGRATIONS_DIR: z.preprocess(emptyToUndefined, z.string().optional()),
  WORKER_LOCK_DURATION_MS: optionalInt(500, 600_000),
  WORKER_STALLED_INTERVAL_MS: optionalInt(200, 600_000),
  WORKER_MAX_STALLED_COUNT: optionalInt(1, 100),
  RECONCILE_INTERVAL_MS: optionalInt(50, 600_000),
  RECONCILE_GRACE_MS: optionalInt(0, 3_600_000),
  WORKER_FAULT: z.preprocess(emptyToUndefined, z.string().optional()),
  VERIFY_INTERVAL_SECONDS: optionalInt(0, 7 * 24 * 3600),
  DRIFT_ACTION: z.preprocess(emptyToUndefined, z.enum([DRIFT_ACTIONS.alert, DRIFT_ACTIONS.engage]).optional()),
  VERIFY_API_TOKEN: z.preprocess(emptyToUndefined, z.string().optional()),
});

/**
 * Parses the worker-only variables once, in main.ts.
 * @throws ConfigError naming the variable.
 */
export const parseWorkerOptions = (env: Readonly<Record<string, string | undefined>>): WorkerOptions => {
  const parsed = workerEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => ({ field: String(issue.path[0] ?? '(environment)'), message: issue.message })));
  }
  const e = parsed.data;
  let fault: FaultInjection | undefined;
  if (e.WORKER_FAULT !== undefined) {
    if (e.NODE_ENV === 'production') {
      throw new ConfigError([{ field: 'WORKER_FAULT', message: 'is a test-only setting and is refused when NODE_ENV=production' }]);
    }
    fault = parseFaultInjection(e.WORKER_FAULT);
    if (fault === undefined) {
      throw new ConfigError([{ field: 'WORKER_FAULT', message: 'must be crash-after-commit:<count> or crash-after-commit:job=<jobId>' }]);
    }
  }
  const tuning: Partial<WorkerTuning> = {
    ...(e.WORKER_LOCK_DURATION_MS === undefined ? {} : { lockDurationMs: e.WORKER_LOCK_DURATION_MS }),
    ...(e.WORKER_STALLED_INTERVAL_MS === undefined ? {} : { stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS }),
    ...(e.WORKER_MAX_STALLED_COUNT === undefined ? {} : { maxStalledCount: e.WORKER_MAX_STALLED_COUNT }),
    ...(e.RECONCILE_INTERVAL_MS === undefined ? {} : { reconcileIntervalMs: e.RECONCILE_INTERVAL_MS }),
    ...(e.RECONCILE_GRACE_MS === undefined ? {} : { reconcileGraceMs: e.RECONCILE_GRACE_MS }),
  };
  return Object.freeze({
    migrationsDir: e.MIGRATIONS_DIR,
    tuning: Object.freeze(tuning),
    fault,
    verifyIntervalSeconds: e.VERIFY_INTERVAL_SECONDS ?? 900,
    driftAction: e.DRIFT_ACTION ?? DRIFT_ACTIONS.alert,
    verifyApiToken: e.VERIFY_API_TOKEN,
  });
};
