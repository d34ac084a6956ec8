import { afterEach, describe, expect, it } from 'vitest';
import { recordAuditCheckpoint } from '../../packages/core/src/state/audit/auditCheckpoints.js';
import {
  applyGovernanceChange,
  AUDIT_CHAIN_CHECK,
  createChangeRequest,
  QUEUE_EVENTS,
  recordQueueEvent,
  insertSignedAuditRows,
  readAuditChainHead,
  signAuditEntries,
  createAuditKeyring,
  findLatestFullAuditCheck,
  OUTSIDE_WRITES_CHECK,
  sql,
  verifyAuditChain,
} from '../../packages/core/src/index.js';
import { createMigrator } from '../../packages/core/src/migrator/index.js';
import { adminQuery, createTestDatabase, dropTestDatabase, type TestDatabase } from '../helpers/database.js';
import { MIGRATIONS_DIR } from '../helpers/globalSetup.js';
import { applyChanges, chainCheck, DEV_KEYRING, migrateVerify, tamper, verifyJob } from './support.js';

// Rows of a seeded database: 1 the keyed-chain upgrade event (unkeyed, written by the migration), 2 the first signed
// entry's key-rotation event, 3..10 eight governance changes.
const CHANGES = 8;

let databases: TestDatabase[] = [];
const seeded = async (label: string): Promise<TestDatabase> => {
  const database = await createTestDatabase(label, { poolSize: 2 });
  databases.push(database);
  await applyChanges(database.pool, CHANGES);
  return database;
};

afterEach(async (context) => {
  const failed = context.task.result?.state === 'fail';
  await Promise.all(databases.map((database) => dropTestDatabase(database, failed)));
  databases = [];
});

/**
 * Both verifiers (`migrate verify` and the worker's verify job) must report the same first problem. The CLI runs
 * first: a verify job that fails appends its `verification.failed` event to the log (notifications), so after it the
 * log has one more row than the tampered one.
 */
const expectCliReports = async (database: TestDatabase, detail: string | RegExp) => {
  const cli = await migrateVerify(database);
  expect(cli.code).toBe(1);
  expect(cli.out).toContainEqual(expect.stringMatching(new RegExp(`^failed  ${AUDIT_CHAIN_CHECK}: `)));
  const line = cli.out.find((candidate) => candidate.includes(AUDIT_CHAIN_CHECK)) ?? '';
  expect(line.slice(line.indexOf(': ') + 2)).toMatch(detail);
};
const expectBothReport = async (database: TestDatabase, detail: string | RegExp) => {
  await expectCliReports(database, detail);
  const job = await verifyJob(database);
  expect(job.passed).toBe(false);
  expect(chainCheck(job.checks)).toEqual({ name: AUDIT_CHAIN_CHECK, status: 'failed', detail: expect.stringMatching(detail), coverage: expect.objectContaining({ head_row: null }) });
};

describe('audit chain verification', () => {
  it('passes an untouched chain in the verify job and in migrate verify, and records a checkpoint', async () => {
    const database = await seeded('untouched');
    const job = await verifyJob(database);
    expect(job.checks.filter((check) => check.status !== 'passed')).toEqual([]);
    expect(chainCheck(job.checks)?.detail).toMatch(/^full check: 10 row\(s\) from the first row verified.*head row 10 hash [0-9a-f]{64}$/);
    const cli = await migrateVerify(database);
    expect(cli).toMatchObject({ code: 0, err: [] });
    const incremental = await verifyJob(database, { auditCheck: 'incremental' });
    expect(chainCheck(incremental.checks)?.detail).toMatch(/^incremental check: 0 row\(s\) after checkpoint \d+ \(row 10\)/);
    const checkpoints = await database.pool.anyFirst(sql.unsafe`SELECT head_id FROM public.governance_audit_checkpoints ORDER BY id`);
    expect(checkpoints).toEqual([10, 10, 10]);
  });

  it('says as data what each check covered, and finds the newest run that checked every row', async () => {
    const database = await seeded('coverage');
    expect(await findLatestFullAuditCheck(database.pool)).toBeNull();
    // Asked for incremental with no checkpoint yet: it reads every row, so it is a full check, and says so.
    const first = await verifyJob(database, { auditCheck: 'incremental' });
    expect(chainCheck(first.checks)?.coverage).toEqual({ mode: 'full', after_checkpoint: null, after_row: null, rows: 10, head_row: 10 });
    const [firstCheckpoint] = await database.pool.anyFirst(sql.unsafe`SELECT id FROM public.governance_audit_checkpoints WHERE full_check ORDER BY id`);
    await applyChanges(database.pool, 2, DEV_KEYRING, 'more');
    const incremental = await verifyJob(database, { auditCheck: 'incremental' });
    expect(chainCheck(incremental.checks)?.coverage).toEqual({ mode: 'incremental', after_checkpoint: firstCheckpoint, after_row: 10, rows: 2, head_row: 12 });
    const quiet = await verifyJob(database, { auditCheck: 'incremental' });
    expect(chainCheck(quiet.checks)?.coverage).toMatchObject({ mode: 'incremental', after_row: 12, rows: 0, head_row: 12 });

    // The newest full check is the first run, whatever incremental runs came after it.
    const runs = await database.pool.anyFirst(sql.unsafe`SELECT id FROM public.verification_runs ORDER BY id`);
    expect(runs).toHaveLength(3);
    expect(await findLatestFullAuditCheck(database.pool)).toMatchObject({
      run_id: runs[0],
      finished_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      check: { name: AUDIT_CHAIN_CHECK, status: 'passed', coverage: { mode: 'full', rows: 10, head_row: 10 } },
    });
    const full = await verifyJob(database);
    expect(chainCheck(full.checks)?.coverage).toEqual({ mode: 'full', after_checkpoint: null, after_row: null, rows: 12, head_row: 12 });
    const newest = await database.pool.oneFirst(sql.unsafe`SELECT max(id) FROM public.verification_runs`);
    expect((await findLatestFullAuditCheck(database.pool))?.run_id).toBe(newest);
  });

  it('reports an edited row by its id', async () => {
    const database = await seeded('edit');
    await tamper(database, `UPDATE public.governance_audit_log SET actor = 'mallory' WHERE id = 5;`);
    await expectBothReport(database, /^row 5: keyed hash does not match the row content/);
    // Found the same way when the rows come in several batches (each read while the one before is checked).
    const batched = await verifyAuditChain(database.pool, DEV_KEYRING, { mode: 'full', batchSize: 2 });
    expect(batched).toMatchObject({ intact: false, firstBadId: 5, problem: expect.stringMatching(/^row 5: keyed hash/) });
  });

  it('reports an edit whose later hashes were recomputed with the public unkeyed hash function', async () => {
    const database = await seeded('edit-rehash');
    await tamper(
      database,
      `UPDATE public.governance_audit_log SET reason = 'nothing to see' WHERE id = 6;
       DO $$
       DECLARE r RECORD; prev TEXT;
       BEGIN
         SELECT hash INTO prev FROM public.governance_audit_log WHERE id = 5;
         FOR r IN SELECT * FROM public.governance_audit_log WHERE id >= 6 ORDER BY id LOOP
           UPDATE public.governance_audit_log SET key_id = NULL, prev_hash = prev,
             hash = public.governance_audit_row_hash_v2(prev, r.id, r.kind, r.job_id, r.action, r.outcome, r.actor,
               r.reason, r.before, r.after, r.unmet_conditions, r.request_id, r.created_at, r.details)
           WHERE id = r.id RETURNING hash INTO prev;
         END LOOP;
       END $$;`,
    );
    await expectBothReport(database, /^row 6 is not signed \(no key id\) but is not an outside-write event/);
  });

  it('reports the newest rows deleted after a verification recorded the head', async () => {
    const database = await seeded('delete-newest');
    expect((await verifyJob(database)).passed).toBe(true);
    await tamper(database, `DELETE FROM public.governance_audit_log WHERE id > 7;`);
    await expectBothReport(database, /^rows 8\.\.10 are missing: checkpoint \d+ saw row 10 as the head/);
  });

  it('reports the newest rows deleted before any checkpoint, from the executed-job records', async () => {
    const database = await seeded('delete-newest-no-checkpoint');
    await tamper(database, `DELETE FROM public.governance_audit_log WHERE id > 8;`);
    await expectBothReport(database, /^row 9 is missing: executed job change-6 recorded it as its audit entry/);
  });

  it('reports a deleted middle row', async () => {
    const database = await seeded('delete-middle');
    await tamper(database, `DELETE FROM public.governance_audit_log WHERE id = 6;`);
    await expectBothReport(database, /^row 6 is missing \(deleted\)/);
  });

  it('reports two swapped rows at the first of them', async () => {
    const database = await seeded('swap');
    await tamper(
      database,
      `UPDATE public.governance_audit_log SET id = -4 WHERE id = 4;
       UPDATE public.governance_audit_log SET id = 4 WHERE id = 7;
       UPDATE public.governance_audit_log SET id = 7 WHERE id = -4;`,
    );
    await expectBothReport(database, /^row 4: previous-hash link does not match row 3/);
  });

  it('reports a table truncated with the triggers off and its rows inserted again', async () => {
    const database = await seeded('truncate');
    await tamper(
      database,
      `CREATE TABLE copy AS SELECT * FROM public.governance_audit_log;
       TRUNCATE public.governance_audit_log;
       ALTER TABLE public.governance_audit_log ENABLE TRIGGER USER;
       INSERT INTO public.governance_audit_log
         (kind, job_id, action, outcome, actor, reason, before, after, unmet_conditions, request_id, created_at, details)
       SELECT kind, job_id, action, outcome, actor, reason, before, after, unmet_conditions, request_id, created_at, details
       FROM copy ORDER BY id;
       DROP TABLE copy;`,
    );
    // The copies are appended after the head witness (ids 11..20, linked to row 10's hash), so the truncated range
    // shows as the gap before them.
    await expectBothReport(database, /^rows 1\.\.10 are missing \(deleted\)/);
  });

  it('reports the newest event rows deleted after the last checkpoint, from the go-live state they left', async () => {
    const database = await seeded('events-after-checkpoint');
    expect((await migrateVerify(database)).code).toBe(0);
    // An outside write (row 11, an event: no executed-job record names it), then its row deleted with the log's
    // triggers off: the checkpoint still sees row 10 as the head.
    await database.pool.query(sql.unsafe`UPDATE public.go_live_state SET kill_switch_engaged = NOT kill_switch_engaged WHERE id = 1`);
    await tamper(database, 'DELETE FROM public.governance_audit_log WHERE id > 10;');
    await expectBothReport(database, /^go_live_state \(go_live_enabled \w+, kill_switch_engaged \w+\) is not what row 10, the newest entry about it, recorded/);
  });

  it('reports a forged checkpoint', async () => {
    const database = await seeded('forged-checkpoint');
    await database.pool.query(sql.unsafe`
      INSERT INTO public.governance_audit_checkpoints (head_id, head_hash, full_check, key_id, mac)
      VALUES (10, (SELECT hash FROM public.governance_audit_log WHERE id = 10), true, 'dev', repeat('0', 64))`);
    await expectBothReport(database, /^checkpoint \d+ \(head row 10\) has a MAC no key of AUDIT_HMAC_KEYS made/);
  });

  it('ignores a checkpoint signed with the public development key where AUDIT_HMAC_KEYS lacks it, and names an unknown key id', async () => {
    const database = await createTestDatabase('dev-checkpoint', { poolSize: 2 });
    databases.push(database);
    const production = createAuditKeyring([{ id: 'k1', key: 'production-key-production-key-pk' }]);
    await applyChanges(database.pool, 3, production, 'prod');
    const head = await readAuditChainHead(database.pool);
    // `migrate verify` once run without AUDIT_HMAC_KEYS: its checkpoint is signed with the development key.
    await recordAuditCheckpoint(database.pool, DEV_KEYRING, { headId: head.id, headHash: head.hash ?? '', fullCheck: true });
    const report = await verifyAuditChain(database.pool, production, { mode: 'incremental' });
    expect(report).toMatchObject({ intact: true, problem: null, fromCheckpoint: null });
    // A checkpoint under a key id the keyring does not hold, and not the development key's: named as such.
    await database.pool.query(sql.unsafe`
      INSERT INTO public.governance_audit_checkpoints (head_id, head_hash, full_check, key_id, mac)
      VALUES (${head.id}, ${head.hash}, true, 'k9', repeat('0', 64))`);
    expect((await verifyAuditChain(database.pool, production, { mode: 'full' })).problem).toMatch(
      /^checkpoint \d+ \(head row \d+\) is signed with key id k9, which AUDIT_HMAC_KEYS does not hold/,
    );
  });

  it('records a key rotation in the chain and verifies rows of every key it holds', async () => {
    const database = await seeded('rotation');
    const next = createAuditKeyring([{ id: 'k2', key: 'second-key-second-key-second-key' }, DEV_KEYRING.signing]);
    await applyChanges(database.pool, 1, next, 'rotated');
    const rotation = await database.pool.one(sql.unsafe`SELECT id, kind, action, key_id, details FROM public.governance_audit_log WHERE id = 11`);
    expect(rotation).toEqual({ id: 11, kind: 'event', action: 'audit.key_rotated', key_id: 'k2', details: { from: 'dev', to: 'k2' } });
    expect((await verifyAuditChain(database.pool, next, { mode: 'full' })).problem).toBeNull();
    const withoutOld = createAuditKeyring([next.signing]);
    expect((await verifyAuditChain(database.pool, withoutOld, { mode: 'full' })).problem).toBe(
      'row 2 is signed with key id dev, which AUDIT_HMAC_KEYS does not hold',
    );
  });

  it('passes an untouched chain of 100,000 rows', async () => {
    const database = await createTestDatabase('hundred-thousand', { poolSize: 2 });
    databases.push(database);
    const snapshot = { go_live_enabled: false, kill_switch_engaged: true, live: false, version: '1.0.0', backend_complete: false, notes: null };
    // Written with the product's signing and set-based insert (appendAuditEntries without reading the rows back).
    for (let batch = 0; batch < 20; batch += 1) {
      await database.pool.transaction(async (tx) => {
        const { rows } = signAuditEntries(
          await readAuditChainHead(tx),
          Array.from({ length: 5_000 }, (_, i) => ({
            kind: 'change' as const,
            jobId: `bulk-${batch}-${i}`,
            action: 'kill_switch.engage',
            outcome: 'unchanged' as const,
            actor: 'ops',
            reason: `bulk ${batch * 5_000 + i}`,
            before: snapshot,
            after: snapshot,
          })),
          DEV_KEYRING,
        );
        await tx.query(sql.unsafe`${insertSignedAuditRows(rows)}`);
      });
    }
    expect(await database.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.governance_audit_log`)).toBe(100_002);
    const job = await verifyJob(database);
    expect(chainCheck(job.checks)).toMatchObject({ status: 'passed', detail: expect.stringMatching(/^full check: 100002 row/) });
    expect(await migrateVerify(database)).toMatchObject({ code: 0 });
  }, 180_000);
});

describe('deleting the newest rows (the tail)', () => {
  it('reports the newest change-request and queue events deleted, which no checkpoint or executed job names, from the head witness', async () => {
    const database = await seeded('tail-events');
    expect((await migrateVerify(database)).code).toBe(0);
    await createChangeRequest(database.pool, DEV_KEYRING, { action: 'go_live.enable', actor: 'ops', reason: 'ready', required: 2, ttlMinutes: 60, requestId: null });
    await recordQueueEvent(database.pool, DEV_KEYRING, { action: QUEUE_EVENTS.paused, queue: 'governance', actor: 'ops', reason: 'maintenance', requestId: null });
    await recordQueueEvent(database.pool, DEV_KEYRING, { action: QUEUE_EVENTS.resumed, queue: 'governance', actor: 'ops', reason: 'done', requestId: null });
    expect(await database.pool.anyFirst(sql.unsafe`SELECT action FROM public.governance_audit_log WHERE id > 10 ORDER BY id`)).toEqual([
      'change_request.requested',
      'queue.paused',
      'queue.resumed',
    ]);
    await tamper(database, 'DELETE FROM public.governance_audit_log WHERE id > 10;');
    await expectBothReport(database, /^rows 11\.\.13 are missing: the chain head witness \(governance_audit_head\) saw row 13 as the newest/);
  });

  it('keeps the gap: the next entry after a deleted tail takes its id after the witness, and a full check reports the range', async () => {
    const database = await seeded('tail-gap');
    await recordQueueEvent(database.pool, DEV_KEYRING, { action: QUEUE_EVENTS.paused, queue: 'governance', actor: 'ops', reason: 'maintenance', requestId: null });
    await tamper(database, 'DELETE FROM public.governance_audit_log WHERE id = 11;');
    await applyChanges(database.pool, 1, DEV_KEYRING, 'after-deletion');
    expect(await database.pool.anyFirst(sql.unsafe`SELECT id FROM public.governance_audit_log WHERE id > 9 ORDER BY id`)).toEqual([10, 12]);
    await expectBothReport(database, /^row 11 is missing \(deleted\)/);
  });

  it('reports a metadata change deleted with its executed-job record, from the system_metadata row it left', async () => {
    const database = await seeded('tail-metadata-change');
    await applyGovernanceChange(
      database.pool,
      { jobId: 'metadata-1', payload: { action: 'metadata.update', actor: 'ops', reason: 'backend done', metadata: { backend_complete: true } } },
      { keyring: DEV_KEYRING, migrationHead: 'test' },
    );
    await tamper(
      database,
      `DELETE FROM public.governance_audit_log WHERE job_id = 'metadata-1';
       DELETE FROM public.governance_executed_jobs WHERE job_id = 'metadata-1';`,
    );
    // migrate verify only: a failed verify job would append its verification.failed event, and the witness would then
    // be that event, not the deleted entry, for the second report below.
    await expectCliReports(database, /^system_metadata is not what row 10, the newest entry about it, recorded \(backend_complete true, recorded false\)/);
    // The row put back as the remaining entries say: the deleted entry is still missing at the head witness.
    await adminQuery(`SET valhalla.change = 'on'; UPDATE public.system_metadata SET backend_complete = FALSE WHERE id = 1;`, database.name);
    await expectBothReport(database, /^row 11 is missing: the chain head witness \(governance_audit_head\) saw it as the newest row/);
  });

  it('reports backend_complete set outside the product once its outside-write event is deleted, or written with the trigger off', async () => {
    const database = await seeded('tail-outside-metadata');
    expect((await migrateVerify(database)).code).toBe(0);
    await database.pool.query(sql.unsafe`UPDATE public.system_metadata SET backend_complete = TRUE WHERE id = 1`);
    expect(await database.pool.oneFirst(sql.unsafe`SELECT action FROM public.governance_audit_log WHERE id = 11`)).toBe('outside_write');
    await tamper(database, 'DELETE FROM public.governance_audit_log WHERE id = 11;');
    await expectBothReport(database, /^system_metadata is not what row 10, the newest entry about it, recorded \(backend_complete true, recorded false\)/);

    const quiet = await seeded('tail-outside-metadata-quiet');
    await adminQuery(
      `SET session_replication_role = replica; UPDATE public.system_metadata SET version = '9.9.9' WHERE id = 1;`,
      quiet.name,
    );
    await expectBothReport(quiet, /^system_metadata is not what row 10, the newest entry about it, recorded \(version "9\.9\.9", recorded "1\.0\.0"\)/);
  });

  it('reports rows added with the triggers off, which the head witness never saw', async () => {
    const database = await seeded('tail-added-quietly');
    const { rows } = signAuditEntries(
      await readAuditChainHead(database.pool),
      [{ kind: 'event', action: 'test.forged', actor: 'mallory', reason: 'inserted around the product' }],
      DEV_KEYRING,
    );
    await tamper(database, `INSERT INTO public.governance_audit_log (id, prev_hash, hash, key_id, created_at, kind, action, actor, reason, before, after, details)
      VALUES (${rows[0]?.id}, '${rows[0]?.prev_hash}', '${rows[0]?.hash}', 'dev', '${rows[0]?.created_at}', 'event', 'test.forged', 'mallory', 'inserted around the product', '{}', '{}', '{}');`);
    await expectBothReport(database, /^rows 11\.\.11 were added without moving the chain head witness|^row 11 was added without moving the chain head witness/);
  });

  it('keeps the head witness moving forward only', async () => {
    const database = await seeded('witness-forward-only');
    expect(await database.pool.one(sql.unsafe`SELECT last_id, last_hash = (SELECT hash FROM public.governance_audit_log WHERE id = 10) AS same FROM public.governance_audit_head`)).toEqual({ last_id: 10, same: true });
    for (const statement of [
      'UPDATE public.governance_audit_head SET last_id = 9',
      "UPDATE public.governance_audit_head SET last_hash = 'other'",
      'DELETE FROM public.governance_audit_head',
      'TRUNCATE public.governance_audit_head',
    ]) {
      await expect(adminQuery(statement, database.name), statement).rejects.toThrow(/governance_audit_head only moves forward/);
    }
  });
});

describe('writes made outside the product', () => {
  it('records an UPDATE of go_live_state by another client as an event entry, reported once by verification', async () => {
    const database = await seeded('outside-write');
    expect((await verifyJob(database)).passed).toBe(true);
    const url = new URL(database.url);
    url.searchParams.set('application_name', 'python-service');
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await client.query(`UPDATE public.go_live_state SET go_live_enabled = TRUE, kill_switch_engaged = FALSE WHERE id = 1`);
      await client.query(`UPDATE public.system_metadata SET notes = 'from python' WHERE id = 1`);
    } finally {
      await client.end();
    }
    const events = await database.pool.any(sql.unsafe`
      SELECT id, kind, action, outcome, key_id, actor, before->>'kill_switch_engaged' AS before_kill,
             after->>'kill_switch_engaged' AS after_kill, details
      FROM public.governance_audit_log WHERE action = 'outside_write' ORDER BY id`);
    expect(events).toEqual([
      {
        id: 11,
        kind: 'event',
        action: 'outside_write',
        outcome: null,
        key_id: null,
        actor: 'postgres',
        before_kill: 'true',
        after_kill: 'false',
        details: expect.objectContaining({ table: 'public.go_live_state', database_role: 'postgres', application_name: 'python-service' }),
      },
      expect.objectContaining({ id: 12, details: expect.objectContaining({ table: 'public.system_metadata' }) }),
    ]);

    const run = await verifyJob(database);
    expect(chainCheck(run.checks)?.status).toBe('passed');
    expect(run.checks.find((check) => check.name === OUTSIDE_WRITES_CHECK)).toEqual({
      name: OUTSIDE_WRITES_CHECK,
      status: 'failed',
      detail: expect.stringMatching(
        /^2 write\(s\) outside the product: row 11: public.go_live_state by role postgres \(application python-service\) at .*; row 12: public.system_metadata/,
      ),
    });
    // Reported once: the next run starts after the checkpoint that run recorded.
    expect((await verifyJob(database)).passed).toBe(true);

    // A signed entry after them anchors them: editing an outside-write row is now caught by the chain.
    await applyChanges(database.pool, 1, DEV_KEYRING, 'after-outside');
    await tamper(database, `UPDATE public.governance_audit_log SET actor = 'nobody' WHERE id = 11;`);
    await expectBothReport(database, /^row 11: stored hash does not match the row content/);
  });

  it('records nothing for the product own changes', async () => {
    const database = await seeded('product-writes');
    expect(await database.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.governance_audit_log WHERE action = 'outside_write'`)).toBe(0);
  });
});

describe('upgrade from the unkeyed chain', () => {
  it('keeps rows hashed the old way verifiable, records the upgrade, and anchors them with the first signed row', async () => {
    const database = await createTestDatabase('upgrade', { empty: true, poolSize: 2 });
    databases.push(database);
    const migrator = createMigrator({ db: database.pool, migrationsDir: MIGRATIONS_DIR });
    await migrator.up({ to: '20260204_worker_runtime' });
    const snapshot = { go_live_enabled: false, kill_switch_engaged: true, live: false, version: '1.0.0', backend_complete: false, notes: null };
    for (let i = 0; i < 3; i += 1) {
      // What the previous release wrote: the v1 trigger assigns id, prev_hash and the public sha256.
      await database.pool.query(sql.unsafe`
        INSERT INTO public.governance_audit_log (job_id, action, outcome, actor, reason, before, after, unmet_conditions, request_id)
        VALUES (${`legacy-${i}`}, 'kill_switch.engage', 'unchanged', 'ops', ${`legacy ${i}`}, ${sql.jsonb(snapshot)}, ${sql.jsonb(snapshot)}, '{}', null)`);
    }
    await migrator.up();
    await applyChanges(database.pool, 2);
    const rows = await database.pool.any(sql.unsafe`SELECT id, kind, action, key_id FROM public.governance_audit_log ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, kind: 'change', action: 'kill_switch.engage', key_id: null },
      { id: 2, kind: 'change', action: 'kill_switch.engage', key_id: null },
      { id: 3, kind: 'change', action: 'kill_switch.engage', key_id: null },
      { id: 4, kind: 'event', action: 'audit.chain_keyed', key_id: null },
      { id: 5, kind: 'event', action: 'audit.key_rotated', key_id: 'dev' },
      { id: 6, kind: 'change', action: 'kill_switch.release', key_id: 'dev' },
      { id: 7, kind: 'change', action: 'kill_switch.engage', key_id: 'dev' },
    ]);
    expect((await verifyJob(database)).passed).toBe(true);

    // A legacy row rewritten with the public hash function, and every later unkeyed hash recomputed: the first signed
    // row's HMAC covers the old head, so the rewrite shows.
    await tamper(
      database,
      `UPDATE public.governance_audit_log SET actor = 'mallory' WHERE id = 2;
       DO $$
       DECLARE r RECORD; prev TEXT;
       BEGIN
         SELECT hash INTO prev FROM public.governance_audit_log WHERE id = 1;
         FOR r IN SELECT * FROM public.governance_audit_log WHERE id BETWEEN 2 AND 3 ORDER BY id LOOP
           UPDATE public.governance_audit_log SET prev_hash = prev,
             hash = public.governance_audit_row_hash(prev, r.id, r.job_id, r.action, r.outcome, r.actor, r.reason,
               r.before, r.after, r.unmet_conditions, r.request_id, r.created_at)
           WHERE id = r.id RETURNING hash INTO prev;
         END LOOP;
         UPDATE public.governance_audit_log a SET prev_hash = prev,
           hash = public.governance_audit_row_hash_v2(prev, a.id, a.kind, a.job_id, a.action, a.outcome, a.actor, a.reason,
             a.before, a.after, a.unmet_conditions, a.request_id, a.created_at, a.details)
         WHERE id = 4;
         -- and relinks the first signed row to the new hash (its HMAC cannot be recomputed without the key)
         UPDATE public.governance_audit_log SET prev_hash = (SELECT hash FROM public.governance_audit_log WHERE id = 4) WHERE id = 5;
       END $$;`,
    );
    const report = await verifyAuditChain(database.pool, DEV_KEYRING, { mode: 'full' });
    expect(report.problem).toBe('row 5: keyed hash does not match the row content (edited, or rehashed without the key)');
  });
});
