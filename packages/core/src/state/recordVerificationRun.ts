import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { runInTransaction } from '../db/runInTransaction.js';
import { appendAuditEvent } from './audit/appendAuditEvent.js';
import type { AuditKeyring } from './audit/auditKeyring.js';
import type { VerificationCheck, VerificationRun } from '@valhalla/contract';
import { insertVerificationRun } from './queries/verificationRuns.js';

/** The audit event of a verification run that did not pass (notification subscriptions filter on it). */
export const VERIFICATION_FAILED_EVENT = 'verification.failed';

/**
 * Stores a finished run (once per job id, as insertVerificationRun) and, when it did not pass, a `verification.failed`
 * audit event naming the checks that did not pass, in the same transaction: the event exists exactly when the failed
 * run does, and a redelivered job writes neither twice. Database work only, safe to re-run.
 */
export const recordVerificationRun = async (
  pool: DatabasePool,
  keyring: AuditKeyring,
  run: Parameters<typeof insertVerificationRun>[1],
): Promise<VerificationRun> =>
  runInTransaction(pool, async (tx) => {
    // No lock of row 1 first, unlike other audit writers: a run fails precisely when row 1 may be missing (a deleted
    // seed row). This transaction holds no row another writer waits for before taking the chain lock.
    if (run.passed) return insertVerificationRun(tx, run);
    const stored = await insertVerificationRun(tx, run);
    const key = `${VERIFICATION_FAILED_EVENT}:${stored.id}`;
    const recorded = await tx.exists(sql.type(z.object({ exists: z.boolean() }))`SELECT 1 FROM public.governance_audit_log WHERE job_id = ${key}`);
    if (!recorded && !stored.passed) {
      const notPassed = stored.checks.filter((check: VerificationCheck) => check.status !== 'passed');
      await appendAuditEvent(tx, keyring, {
        key,
        action: VERIFICATION_FAILED_EVENT,
        actor: stored.actor,
        reason: `verification run ${stored.id} of ${stored.migration_head} did not pass: ${notPassed.map((check) => check.name).join(', ')}`.slice(0, 500),
        requestId: null,
        details: { run_id: stored.id, release: stored.release, migration_head: stored.migration_head, not_passed: notPassed },
      });
    }
    return stored;
  });
