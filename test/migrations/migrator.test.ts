import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createDatabasePool } from '../../packages/core/src/index.js';
import { LEDGER_TABLE, createMigrator, loadRevisionChain } from '../../packages/core/src/migrator/index.js';
import { runMigrateCommand } from '../../apps/cli/src/runMigrateCommand.js';
import { adminQuery, type TestDatabase } from '../helpers/database.js';
import { startNodeProcess } from '../helpers/processes.js';
import { MIGRATE_CLI, MIGRATIONS_DIR, copyMigrations, reportSql, useFreshDatabases } from './fixtures.js';

const CHAIN = [
  '20260113_golive_merge',
  '20260121_go_live_core_tables',
  '20260201_governance_audit_log',
  '20260202_verification_runs',
  '20260203_idempotency_ledger',
  '20260204_worker_runtime',
  '20260210_audit_chain_keyed',
  '20260211_change_requests',
  '20260212_live_state_notify',
  '20260214_safety_lane',
  '20260216_change_context',
  '20260301_acceptance_record',
  '20260302_audit_sequence',
  '20260303_notifications',
  '20260304_notification_outbox',
];
/** The chain's head: the revision test fixtures link new revisions to. */
const HEAD = CHAIN.at(-1) as string;

const freshDatabase = useFreshDatabases(2);

const migratorFor = (database: TestDatabase, migrationsDir = MIGRATIONS_DIR) => createMigrator({ db: database.pool, migrationsDir });

const runCli = async (database: TestDatabase, args: string[], migrationsDir = MIGRATIONS_DIR, extra: { exportDir?: string } = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runMigrateCommand(args, { databaseUrl: database.url, migrationsDir, ...extra }, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

const rows = async (database: TestDatabase, text: string) => (await adminQuery(text, database.name)).rows;

const columnsOf = (database: TestDatabase) =>
  rows(
    database,
    `SELECT table_name, column_name, ordinal_position, data_type, column_default, is_nullable, character_maximum_length
     FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name IN ('system_metadata', 'go_live_state')
     ORDER BY table_name, ordinal_position`,
  );
const primaryKeysOf = (database: TestDatabase) =>
  rows(
    database,
    `SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc
     JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
     WHERE tc.table_schema = 'public' AND tc.constraint_type = 'PRIMARY KEY' AND tc.table_name IN ('system_metadata', 'go_live_state')
     ORDER BY tc.table_name`,
  );
const ledgerOf = (database: TestDatabase) => rows(database, `SELECT revision, checksum, applied_at FROM ${LEDGER_TABLE} ORDER BY revision`);

describe('migrations', () => {
  it('chains the origin revisions from the root 20260113_golive_merge', async () => {
    const chain = await loadRevisionChain(MIGRATIONS_DIR);
    expect(chain.revisions.map((r) => r.id)).toEqual(CHAIN);
    expect(chain.revisions[1]?.previous).toBe('20260113_golive_merge');
  });

  it('creates the seed tables exactly as the origin report defines them, with row 1 seeded', async () => {
    const migrated = await freshDatabase('migrated');
    const direct = await freshDatabase('direct');
    await migratorFor(migrated).up();
    await adminQuery(await reportSql(), direct.name);

    expect(await columnsOf(migrated)).toEqual(await columnsOf(direct));
    expect(await primaryKeysOf(migrated)).toEqual(await primaryKeysOf(direct));
    expect(await columnsOf(migrated)).toHaveLength(12);
    expect(await rows(migrated, 'SELECT id, version, backend_complete, notes FROM public.system_metadata')).toEqual([
      { id: 1, version: '1.0.0', backend_complete: false, notes: null },
    ]);
    expect(await rows(migrated, 'SELECT id, go_live_enabled, kill_switch_engaged FROM public.go_live_state')).toEqual([
      { id: 1, go_live_enabled: false, kill_switch_engaged: true },
    ]);
  });

  it('is idempotent: up twice leaves the ledger unchanged and exits 0 with nothing pending', async () => {
    const database = await freshDatabase('twice');
    expect((await migratorFor(database).up()).applied).toEqual(CHAIN);
    const ledger = await ledgerOf(database);
    expect((await migratorFor(database).up()).applied).toEqual([]);
    expect(await ledgerOf(database)).toEqual(ledger);
    const again = await runCli(database, ['up']);
    expect(again.code).toBe(0);
    expect(await ledgerOf(database)).toEqual(ledger);
  });

  it('applies each revision once when 8 processes run up at the same time', async () => {
    const database = await freshDatabase('concurrent');
    const runners = Array.from({ length: 8 }, (_, i) =>
      startNodeProcess(MIGRATE_CLI, ['up'], { DATABASE_URL: database.url }, `migrate up #${i}`),
    );
    const exits = await Promise.all(runners.map((runner) => runner.exited));
    expect(exits.map((exit) => exit.code), runners.map((r) => r.output()).join('\n')).toEqual(Array(8).fill(0));
    const appliedLines = runners.flatMap((runner) => runner.output().match(/^applied \d{8}_\S+/gm) ?? []);
    expect(appliedLines.sort()).toEqual(CHAIN.map((id) => `applied ${id}`).sort());
    expect((await ledgerOf(database)).map((row) => row.revision)).toEqual(CHAIN);
    expect(await rows(database, 'SELECT count(*)::int AS n FROM public.go_live_state')).toEqual([{ n: 1 }]);
  });

  it('applies each revision once when 4 migrators on one pool run up at the same time', async () => {
    const database = await freshDatabase('concurrent-pool');
    // A connection for each: each holds one for as long as it holds the migration lock or waits for it.
    const pool = await createDatabasePool({ connectionUri: database.url, maxPoolSize: 4, applicationName: 'valhalla-test' });
    onTestFinished(() => pool.end());
    const results = await Promise.all(Array.from({ length: 4 }, () => createMigrator({ db: pool, migrationsDir: MIGRATIONS_DIR }).up()));
    expect(results.flatMap((result) => result.applied).sort()).toEqual([...CHAIN].sort());
    expect((await ledgerOf(database)).map((row) => row.revision)).toEqual(CHAIN);
    expect(await rows(database, 'SELECT count(*)::int AS n FROM public.go_live_state')).toEqual([{ n: 1 }]);
  });

  it('fails with MIGRATION_LOCK_TIMEOUT while another runner holds the lock past lockTimeoutMs, and runs once it is released', async () => {
    const database = await freshDatabase('lock-timeout');
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      // The lock every runner takes, whatever its version: a runner of an older release holding it.
      await holder.query(`SELECT pg_advisory_lock(hashtextextended('valhalla-go-live:migrations', 0))`);
      const waiting = createMigrator({ db: database.pool, migrationsDir: MIGRATIONS_DIR, lockTimeoutMs: 300 }).up();
      await expect(waiting).rejects.toMatchObject({ code: 'MIGRATION_LOCK_TIMEOUT', message: expect.stringMatching(/more than 300 ms/) });
      expect(await rows(database, `SELECT to_regclass('${LEDGER_TABLE}') AS ledger`)).toEqual([{ ledger: null }]);
    } finally {
      // Ending the session releases its lock.
      await holder.end();
    }
    expect((await migratorFor(database).up()).applied).toEqual(CHAIN);
  });

  it('keeps tables and rows that the Python service already created', async () => {
    const database = await freshDatabase('pre-existing');
    await adminQuery(await reportSql(), database.name);
    await adminQuery(
      `UPDATE public.system_metadata SET version = '2.3.4', backend_complete = TRUE, notes = 'from python' WHERE id = 1;
       UPDATE public.go_live_state SET go_live_enabled = TRUE, kill_switch_engaged = FALSE, changed_by = 'alembic', reason = 'legacy' WHERE id = 1;
       INSERT INTO public.go_live_state (id, go_live_enabled) VALUES (2, TRUE);`,
      database.name,
    );
    const before = await rows(database, 'SELECT * FROM public.go_live_state ORDER BY id');
    await migratorFor(database).up();
    expect(await rows(database, 'SELECT * FROM public.go_live_state ORDER BY id')).toEqual(before);
    expect(await rows(database, 'SELECT version, backend_complete, notes FROM public.system_metadata')).toEqual([
      { version: '2.3.4', backend_complete: true, notes: 'from python' },
    ]);
  });

  it('downgrades to the root (tables gone, rows exported first) and upgrades back', async () => {
    const database = await freshDatabase('down-up');
    await migratorFor(database).up();
    const exportDir = await mkdtemp(join(tmpdir(), 'valhalla-export-'));
    onTestFinished(() => rm(exportDir, { recursive: true, force: true }));
    const down = await runCli(database, ['down', '--to', '20260113_golive_merge', '--export-and-drop'], MIGRATIONS_DIR, { exportDir });
    expect(down.code, down.err).toBe(0);
    expect(await rows(database, `SELECT to_regclass('public.go_live_state') AS t, to_regclass('public.system_metadata') AS m,
                                        to_regclass('public.governance_audit_log') AS a`)).toEqual([{ t: null, m: null, a: null }]);
    expect((await ledgerOf(database)).map((row) => row.revision)).toEqual(['20260113_golive_merge']);

    expect((await runCli(database, ['up'])).code).toBe(0);
    expect(await rows(database, 'SELECT id, kill_switch_engaged FROM public.go_live_state')).toEqual([{ id: 1, kill_switch_engaged: true }]);
    expect((await runCli(database, ['verify'])).code).toBe(0);
  });

  it('applies up to a target with --to and reports the rest as pending', async () => {
    const database = await freshDatabase('to');
    expect((await runCli(database, ['up', '--to', '20260121_go_live_core_tables'])).code).toBe(0);
    const status = await migratorFor(database).status();
    expect(status.applied.map((row) => row.revision)).toEqual(CHAIN.slice(0, 2));
    expect(status.pending).toEqual(CHAIN.slice(2));
    expect((await runCli(database, ['up', '--to', 'nope'])).err).toContain('MIGRATION_TARGET_UNKNOWN');
  });

  it('reports an edited revision by name and refuses to run up', async () => {
    const database = await freshDatabase('tampered');
    const dir = await copyMigrations();
    await migratorFor(database, dir).up();
    await appendFile(join(dir, '20260202_verification_runs', 'up.sql'), '\n-- an innocent edit\n');

    const status = await runCli(database, ['status'], dir);
    expect(status.code).not.toBe(0);
    expect(status.err).toContain('20260202_verification_runs');
    const up = await runCli(database, ['up'], dir);
    expect(up.code).not.toBe(0);
    expect(up.err).toMatch(/MIGRATION_EDITED.*20260202_verification_runs/);
    const verify = await runCli(database, ['verify'], dir);
    expect(verify.code).not.toBe(0);
  });

  it('reports a breaking ledger revision unknown to the code', async () => {
    const database = await freshDatabase('unknown');
    await migratorFor(database).up();
    await adminQuery(`INSERT INTO ${LEDGER_TABLE} (revision, checksum, duration_ms, breaking) VALUES ('20270101_from_the_future', 'x', 1, TRUE)`, database.name);
    const status = await runCli(database, ['status']);
    expect(status.code).not.toBe(0);
    expect(status.err).toContain('20270101_from_the_future');
    expect((await runCli(database, ['up'])).err).toMatch(/MIGRATION_BREAKING_UNKNOWN.*20270101_from_the_future/);
  });

  it('refuses two heads, naming both', async () => {
    const database = await freshDatabase('heads');
    const dir = await copyMigrations();
    for (const id of ['20260301_branch_a', '20260301_branch_b']) {
      await mkdir(join(dir, id));
      await writeFile(join(dir, id, 'revision.json'), JSON.stringify({ previous: HEAD, description: id }));
      for (const file of ['up.sql', 'down.sql']) await writeFile(join(dir, id, file), 'SELECT 1;');
      await writeFile(join(dir, id, 'verify.sql'), "SELECT 'x' AS check_name, TRUE AS ok;");
    }
    for (const command of [['status'], ['up']]) {
      const result = await runCli(database, command, dir);
      expect(result.code).not.toBe(0);
      expect(result.err).toMatch(/two heads.*20260301_branch_a.*20260301_branch_b/);
    }
  });

  it('rolls a failing revision back completely: no DDL, no ledger row, earlier revisions kept', async () => {
    const database = await freshDatabase('failing');
    const dir = await copyMigrations();
    const id = '20260301_half_applied';
    await mkdir(join(dir, id));
    await writeFile(join(dir, id, 'revision.json'), JSON.stringify({ previous: HEAD, description: 'fails halfway' }));
    await writeFile(join(dir, id, 'up.sql'), 'CREATE TABLE public.half_applied (id int);\nALTER TABLE public.go_live_state ADD COLUMN extra int;\nSELECT 1/0;');
    await writeFile(join(dir, id, 'down.sql'), 'DROP TABLE IF EXISTS public.half_applied;');
    await writeFile(join(dir, id, 'verify.sql'), "SELECT 'x' AS check_name, TRUE AS ok;");

    const result = await runCli(database, ['up'], dir);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/MIGRATION_FAILED.*20260301_half_applied/);
    expect(await rows(database, `SELECT to_regclass('public.half_applied') AS t`)).toEqual([{ t: null }]);
    expect(await rows(database, `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'go_live_state' AND column_name = 'extra'`)).toEqual([{ n: 0 }]);
    expect((await ledgerOf(database)).map((row) => row.revision)).toEqual(CHAIN);

    await rm(join(dir, id), { recursive: true });
    expect((await runCli(database, ['status'], dir)).code).toBe(0);
  });

  it('verify fails naming the check when a seed row is missing', async () => {
    const database = await freshDatabase('verify');
    await migratorFor(database).up();
    expect((await migratorFor(database).verify()).passed).toBe(true);
    await adminQuery('DELETE FROM public.go_live_state WHERE id = 1', database.name);
    const result = await runCli(database, ['verify']);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/failed\s+revision 20260121_go_live_core_tables: go_live_state row 1 exists/);
  });
});
