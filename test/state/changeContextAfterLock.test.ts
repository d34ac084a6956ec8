import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  DEVELOPMENT_AUDIT_KEY,
  applyGovernanceBatch,
  createAuditKeyring,
  createDatabasePool,
  readGovernanceRows,
  sql,
  type GovernanceChangeRequest,
} from '../../packages/core/src/index.js';
import { createTestDatabase, dropTestDatabase } from '../helpers/database.js';
import { waitFor } from '../helpers/waitFor.js';

const KEYRING = createAuditKeyring([DEVELOPMENT_AUDIT_KEY]);
const ENGAGE_CREATED_MS = 1_950_000_000_000;

/**
 * Two writers: one (this test's session, standing in for another worker process or the api's break-glass) holds the
 * row-1 lock and moves the engage watermark without changing row 1, as an engage that finds the switch already
 * engaged does; the other is a batch with a release created before that engage, waiting for the lock. The batch must
 * decide on the watermark the first writer committed, not on the one in the snapshot it took before the wait.
 */
describe('a batch that waited for the governance lock', () => {
  it('sees the supersession watermark moved by the writer it waited for, and rejects the older release', async () => {
    const database = await createTestDatabase('context-after-lock', { poolSize: 2 });
    const holder = new pg.Client({ connectionString: database.url });
    let failed = true;
    try {
      await holder.connect();
      // The kill switch is engaged (the seed): a release would apply unless superseded.
      expect((await readGovernanceRows(database.pool))?.goLive.kill_switch_engaged).toBe(true);
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM public.go_live_state WHERE id = 1 FOR UPDATE');
      await holder.query(
        `INSERT INTO public.governance_safety_watermarks (id, engage_ms) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET engage_ms = excluded.engage_ms`,
        [ENGAGE_CREATED_MS],
      );
      const release: GovernanceChangeRequest = {
        jobId: 'release-older-than-engage',
        jobCreatedAt: ENGAGE_CREATED_MS - 1_000,
        payload: { action: 'kill_switch.release', actor: 'ops:a', reason: 'stale release' },
      };
      const pending = applyGovernanceBatch(database.pool, [release], { keyring: KEYRING, migrationHead: 'head-under-test' });
      // The batch's statement is queued behind the holder's lock.
      await waitFor(async () => {
        const waiting = await database.pool.oneFirst(sql.unsafe`
          SELECT count(*)::int FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'valhalla-test'`);
        return waiting === 1;
      }, { description: 'the batch waits for the row lock' });
      await holder.query('COMMIT');
      const [outcome] = await pending;
      expect(outcome).toMatchObject({ ok: true, execution: { result: { outcome: 'rejected', rejectedAs: 'SUPERSEDED' } } });
      expect((await readGovernanceRows(database.pool))?.goLive.kill_switch_engaged).toBe(true);
      failed = false;
    } finally {
      await holder.end().catch(() => undefined);
      await dropTestDatabase(database, failed);
    }
  });

  it('refuses to decide under an isolation level that would reuse the snapshot from before the lock', async () => {
    const database = await createTestDatabase('context-isolation', { poolSize: 1 });
    try {
      const attempt = database.pool.transaction(async (tx) => {
        await tx.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`);
        return tx.query(sql.unsafe`SELECT * FROM public.governance_change_context(ARRAY[]::text[], 'head')`);
      });
      await expect(attempt).rejects.toThrow(/needs READ COMMITTED/);
      // The pool's own transactions are READ COMMITTED whatever the database's default.
      await database.pool.query(sql.unsafe`ALTER DATABASE ${sql.identifier([database.name])} SET default_transaction_isolation = 'serializable'`);
      const again = await createDatabasePool({ connectionUri: database.url, maxPoolSize: 1, applicationName: 'valhalla-test' });
      try {
        expect(await again.oneFirst(sql.unsafe`SELECT current_setting('transaction_isolation')`)).toBe('read committed');
      } finally {
        await again.end();
      }
    } finally {
      await dropTestDatabase(database, false);
    }
  });
});
