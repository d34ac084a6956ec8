import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

/**
 * Ends the sessions that hold a lock on go_live_state while idle in a transaction for longer than `idleMs`: a worker
 * frozen (SIGSTOP, a VM pause, a long collection) in the middle of its batch keeps row 1 locked, and every change,
 * engages included, would wait for it until idle_in_transaction_session_timeout. Ending it rolls its batch back; its
 * jobs are retried and each change still applies once (executed-job records). Only an engage or a disable that has
 * waited for the lock calls this: the kill switch may preempt a stalled holder, nothing else does.
 * Needs the right to signal those backends: the same role, as every process of the product uses, or pg_signal_backend.
 * @returns how many sessions were ended.
 */
export const preemptIdleLockHolders = async (db: CommonQueryMethods, idleMs: number): Promise<number> =>
  db.oneFirst(sql.type(z.object({ ended: z.number() }))`
    SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid))::int AS ended
    FROM pg_stat_activity a
    WHERE a.datname = current_database()
      AND a.pid <> pg_backend_pid()
      AND a.state IN ('idle in transaction', 'idle in transaction (aborted)')
      AND a.state_change < clock_timestamp() - make_interval(secs => ${idleMs / 1000})
      AND EXISTS (
        SELECT 1 FROM pg_locks l
        WHERE l.pid = a.pid AND l.granted AND l.locktype = 'relation' AND l.relation = 'public.go_live_state'::regclass
      )
  `);
