import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { LEDGER_TABLE, createMigrator, loadRevisionChain } from '../../packages/core/src/migrator/index.js';
import { runMigrateCommand } from '../../apps/cli/src/runMigrateCommand.js';
import { startApiProcess, startWorkerProcess } from '../api/processes.js';
import { adminQuery, type TestDatabase } from '../helpers/database.js';
import { startNodeProcess } from '../helpers/processes.js';
import { waitFor } from '../helpers/waitFor.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { MIGRATE_CLI, MIGRATIONS_DIR, copyMigrations, pythonServiceSql, useFreshDatabases } from './fixtures.js';

// The chain of the code under test, read from the migrations folder (no database needed), so new revisions do not
// need edits here.
const CHAIN_IDS = (await loadRevisionChain(MIGRATIONS_DIR)).revisions.map((revision) => revision.id);
const HEAD = CHAIN_IDS.at(-1)!;
const ALEMBIC_REVISIONS = new Set(['20260113_golive_merge', '20260121_go_live_core_tables']);

const freshDatabase = useFreshDatabases(1);

const rows = async (database: TestDatabase, text: string) => (await adminQuery(text, database.name)).rows;

const runCli = async (database: TestDatabase, args: string[], options: { migrationsDir?: string; exportDir?: string; revisionLockTimeoutMs?: number } = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runMigrateCommand(
    args,
    { databaseUrl: database.url, migrationsDir: options.migrationsDir ?? MIGRATIONS_DIR, actor: 'ops:test', ...options },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
};

/** Newer code: the repository's revisions plus one more, compatible unless said otherwise. */
const newerMigrations = async (id: string, breaking: boolean): Promise<string> => {
  const dir = await copyMigrations();
  await mkdir(join(dir, id));
  await writeFile(join(dir, id, 'revision.json'), JSON.stringify({ previous: HEAD, description: 'newer code', ...(breaking ? { breaking: true } : {}) }));
  await writeFile(join(dir, id, 'up.sql'), 'CREATE TABLE IF NOT EXISTS public.newer_feature (id int PRIMARY KEY);');
  await writeFile(join(dir, id, 'down.sql'), 'DROP TABLE IF EXISTS public.newer_feature;');
  await writeFile(join(dir, id, 'verify.sql'), "SELECT 'newer_feature exists' AS check_name, to_regclass('public.newer_feature') IS NOT NULL AS ok;");
  return dir;
};

describe('rollback: older code on a database migrated by newer code', () => {
  it('runs on compatible revisions it does not know: migrate up exits 0 saying so, status and verify pass with a note, api and worker start', async () => {
    const database = await freshDatabase('rollback-compatible');
    const newer = await newerMigrations('20260301_newer_compatible', false);
    expect((await runCli(database, ['up'], { migrationsDir: newer })).code).toBe(0);

    const up = startNodeProcess(MIGRATE_CLI, ['up'], { DATABASE_URL: database.url }, 'older migrate up');
    expect((await up.exited).code, up.output()).toBe(0);
    expect(up.output()).toMatch(/ahead of this code by compatible revision\(s\) 20260301_newer_compatible/);

    const status = await runCli(database, ['status']);
    expect(status.code, status.err).toBe(0);
    expect(status.out).toMatch(/20260301_newer_compatible .*unknown to this code \(compatible\)/);
    const verify = await createMigrator({ db: database.pool, migrationsDir: MIGRATIONS_DIR }).verify();
    expect(verify.passed).toBe(true);
    expect(verify.checks.find((c) => c.name === 'no unknown revisions in the ledger')?.detail).toMatch(/compatible revision\(s\) 20260301_newer_compatible/);

    const prefix = uniqueQueuePrefix('rollback');
    const api = await startApiProcess({ databaseUrl: database.url, redisUrl: testRedisUrl(), prefix });
    const worker = startWorkerProcess({ databaseUrl: database.url, redisUrl: testRedisUrl(), prefix });
    await worker.waitForOutput(/worker ready/);
    expect((await fetch(`${api.url}/health`)).status).toBe(200);
    // The worker's startup verification on the newer schema passes, with the note: a rollback never fails it.
    const run = await waitFor(
      async () => (await rows(database, 'SELECT passed, checks FROM public.verification_runs ORDER BY id DESC LIMIT 1'))[0] ?? false,
      { timeoutMs: 20_000, description: 'the startup verification run' },
    );
    expect(run.checks.filter((c: { status: string }) => c.status !== 'passed')).toEqual([]);
    expect(run.passed).toBe(true);
    expect(JSON.stringify(run.checks)).toMatch(/compatible revision\(s\) 20260301_newer_compatible/);
    await Promise.all([api.process.stop(), worker.stop()]);
  });

  it('refuses a breaking revision it does not know: migrate up exits non-zero naming it, api and worker refuse to start', async () => {
    const database = await freshDatabase('rollback-breaking');
    const newer = await newerMigrations('20260301_newer_breaking', true);
    expect((await runCli(database, ['up'], { migrationsDir: newer })).code).toBe(0);
    expect(await rows(database, `SELECT breaking FROM ${LEDGER_TABLE} WHERE revision = '20260301_newer_breaking'`)).toEqual([{ breaking: true }]);

    const up = startNodeProcess(MIGRATE_CLI, ['up'], { DATABASE_URL: database.url }, 'older migrate up');
    expect((await up.exited).code).not.toBe(0);
    expect(up.output()).toMatch(/MIGRATION_BREAKING_UNKNOWN.*20260301_newer_breaking/);
    expect((await runCli(database, ['status'])).err).toMatch(/breaking revision unknown to this code: 20260301_newer_breaking/);

    const prefix = uniqueQueuePrefix('rollback-breaking');
    const worker = startWorkerProcess({ databaseUrl: database.url, redisUrl: testRedisUrl(), prefix });
    expect((await worker.exited).code).toBe(1);
    expect(worker.output()).toMatch(/20260301_newer_breaking/);
    const api = startNodeProcess('apps/api/dist/main.js', [], {
      DATABASE_URL: database.url,
      REDIS_URL: testRedisUrl(),
      BULLMQ_PREFIX: prefix,
      PORT: '0',
      HOST: '127.0.0.1',
      GOVERNANCE_TOKENS: 'ops:test-token-0123456789abcdef',
    }, 'api');
    expect((await api.exited).code).toBe(1);
    expect(api.output()).toMatch(/api refuses to start.*20260301_newer_breaking/);
  });

  it('still refuses an edited applied revision', async () => {
    const database = await freshDatabase('rollback-edited');
    const dir = await copyMigrations();
    expect((await runCli(database, ['up'], { migrationsDir: dir })).code).toBe(0);
    await writeFile(join(dir, HEAD, 'verify.sql'), "SELECT 'edited' AS check_name, TRUE AS ok;");
    expect((await runCli(database, ['up'], { migrationsDir: dir })).err).toMatch(new RegExp(`MIGRATION_EDITED.*${HEAD}`));
  });
});

describe('adopting the Python service database (Alembic)', () => {
  it('records the Alembic revisions with their origin, keeps rows and alembic_version, and applies the rest', async () => {
    const database = await freshDatabase('alembic');
    await adminQuery(await pythonServiceSql('20260121_go_live_core_tables'), database.name);
    await adminQuery(
      `UPDATE public.go_live_state SET go_live_enabled = TRUE, kill_switch_engaged = FALSE, changed_by = 'python', reason = 'live since January' WHERE id = 1;
       UPDATE public.system_metadata SET version = '2.3.4', backend_complete = TRUE WHERE id = 1;`,
      database.name,
    );
    const before = await rows(database, 'SELECT * FROM public.go_live_state');
    const up = await runCli(database, ['up']);
    expect(up.code, up.err).toBe(0);
    expect(up.out).toMatch(/adopted 20260113_golive_merge, 20260121_go_live_core_tables from alembic_version/);
    expect(await rows(database, 'SELECT * FROM public.go_live_state')).toEqual(before);
    expect(await rows(database, 'SELECT version, backend_complete FROM public.system_metadata')).toEqual([{ version: '2.3.4', backend_complete: true }]);
    expect(await rows(database, 'SELECT version_num FROM public.alembic_version')).toEqual([{ version_num: '20260121_go_live_core_tables' }]);
    expect(await rows(database, `SELECT revision, origin FROM ${LEDGER_TABLE} ORDER BY applied_at, revision`)).toEqual(
      CHAIN_IDS.map((revision) => ({ revision, origin: ALEMBIC_REVISIONS.has(revision) ? 'alembic' : 'valhalla' })),
    );
    const status = await runCli(database, ['status']);
    expect(status.out).toMatch(/applied {2}20260121_go_live_core_tables .*origin=alembic/);
    expect((await runCli(database, ['verify'])).code).toBe(0);

    // The tables the Python service made are never dropped by a downgrade, whatever they hold.
    const down = await runCli(database, ['down', '--to', 'base', '--export-and-drop'], { exportDir: await tempDir() });
    expect(down.code, down.err).toBe(0);
    expect(down.out).toMatch(/adopted tables kept: public\.go_live_state, public\.system_metadata|adopted tables kept: public\.system_metadata, public\.go_live_state/);
    expect(await rows(database, 'SELECT * FROM public.go_live_state')).toEqual(before);
    expect(await rows(database, `SELECT to_regclass('public.governance_audit_log') AS a`)).toEqual([{ a: null }]);
  });

  it('refuses an Alembic revision this chain does not know, naming it, and changes nothing', async () => {
    const database = await freshDatabase('alembic-unknown');
    await adminQuery(await pythonServiceSql('20260301_python_only'), database.name);
    const up = await runCli(database, ['up']);
    expect(up.code).toBe(1);
    expect(up.err).toMatch(/MIGRATION_ALEMBIC_UNKNOWN: alembic_version stands at 20260301_python_only/);
    expect(await rows(database, `SELECT count(*)::int AS n FROM ${LEDGER_TABLE}`)).toEqual([{ n: 0 }]);
    expect(await rows(database, `SELECT to_regclass('public.governance_audit_log') AS a`)).toEqual([{ a: null }]);
  });
});

describe('adopting only what the Python service can have made', () => {
  it('refuses an alembic_version stamped at a later revision of this chain: up exits 1, nothing is recorded, status stays honest', async () => {
    const database = await freshDatabase('alembic-head');
    // The report's two tables and alembic_version at this chain's head: no audit log, no product table.
    await adminQuery(await pythonServiceSql(HEAD), database.name);
    const up = await runCli(database, ['up']);
    expect(up.code).toBe(1);
    expect(up.err).toMatch(new RegExp(`MIGRATION_ALEMBIC_UNADOPTABLE: alembic_version stands at ${HEAD}, but the Python service can only have applied 20260113_golive_merge and 20260121_go_live_core_tables`));
    expect(await rows(database, `SELECT count(*)::int AS n FROM ${LEDGER_TABLE}`)).toEqual([{ n: 0 }]);
    expect(await rows(database, `SELECT to_regclass('public.governance_audit_log') AS a`)).toEqual([{ a: null }]);
    const status = await runCli(database, ['status']);
    expect(status.out).not.toMatch(/applied {2}/);
    expect(status.out).toMatch(new RegExp(`pending +${HEAD}`));
    expect((await runCli(database, ['verify'])).code).not.toBe(0);
  });

  it('refuses an alembic_version at the core tables revision when those tables are missing', async () => {
    const database = await freshDatabase('alembic-no-tables');
    await adminQuery(
      `${await readFile(new URL('./fixtures/alembic_version.sql', import.meta.url), 'utf8')}
       INSERT INTO public.alembic_version (version_num) VALUES ('20260121_go_live_core_tables');`,
      database.name,
    );
    const up = await runCli(database, ['up']);
    expect(up.code).toBe(1);
    expect(up.err).toMatch(/MIGRATION_ALEMBIC_UNADOPTABLE: alembic_version stands at 20260121_go_live_core_tables, but public\.system_metadata and public\.go_live_state do not exist/);
    expect(await rows(database, `SELECT count(*)::int AS n FROM ${LEDGER_TABLE}`)).toEqual([{ n: 0 }]);
  });

  it('adopts the root revision alone (the service before its tables) and applies the rest', async () => {
    const database = await freshDatabase('alembic-root');
    await adminQuery(await pythonServiceSql('20260113_golive_merge'), database.name);
    const up = await runCli(database, ['up']);
    expect(up.code, up.err).toBe(0);
    expect(up.out).toMatch(/adopted 20260113_golive_merge from alembic_version/);
    expect(await rows(database, `SELECT revision, origin FROM ${LEDGER_TABLE} WHERE origin = 'alembic'`)).toEqual([{ revision: '20260113_golive_merge', origin: 'alembic' }]);
  });
});

const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'valhalla-export-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

const auditEvents = (database: TestDatabase) =>
  rows(database, `SELECT kind, job_id, request_id, action, actor, reason, details FROM public.governance_audit_log WHERE action LIKE 'migration.%' ORDER BY id`);

describe('stamp and repair', () => {
  it('stamp records the revisions as applied (origin stamp) and writes an audit event with the actor and reason', async () => {
    const database = await freshDatabase('stamp');
    const dir = await newerMigrations('20260301_applied_by_hand', false);
    expect((await runCli(database, ['up'])).code).toBe(0);
    expect((await runCli(database, ['stamp', '20260301_applied_by_hand'], { migrationsDir: dir })).code).toBe(64);
    const stamp = await runCli(database, ['stamp', '20260301_applied_by_hand', '--reason', 'hot fix applied by hand in incident 7'], { migrationsDir: dir });
    expect(stamp.code, stamp.err).toBe(0);
    expect(await rows(database, `SELECT origin FROM ${LEDGER_TABLE} WHERE revision = '20260301_applied_by_hand'`)).toEqual([{ origin: 'stamp' }]);
    const events = await auditEvents(database);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'event', job_id: null, request_id: null, action: 'migration.stamp', actor: 'ops:test' });
    expect(events[0]?.reason).toBe('hot fix applied by hand in incident 7');
    expect(events[0]?.details).toEqual({ stamped: ['20260301_applied_by_hand'], to: '20260301_applied_by_hand' });
    expect((await runCli(database, ['stamp', '20260301_applied_by_hand', '--reason', 'again'], { migrationsDir: dir })).err).toMatch(/MIGRATION_NOTHING_TO_DO/);
  });

  it('stamps the first revision of a schema made by hand, before the audit log exists, in the ledger only', async () => {
    const database = await freshDatabase('stamp-before-audit');
    const stamp = await runCli(database, ['stamp', '20260121_go_live_core_tables', '--reason', 'tables created by hand']);
    expect(stamp.code, stamp.err).toBe(0);
    expect(stamp.out).toMatch(/recorded in the migration ledger only/);
    expect(await rows(database, `SELECT revision, origin FROM ${LEDGER_TABLE} ORDER BY revision`)).toEqual([
      { revision: '20260113_golive_merge', origin: 'stamp' },
      { revision: '20260121_go_live_core_tables', origin: 'stamp' },
    ]);
    expect(await rows(database, `SELECT to_regclass('public.governance_audit_log') AS a`)).toEqual([{ a: null }]);
  });

  it('repair accepts the current checksum of an edited revision and writes an audit event', async () => {
    const database = await freshDatabase('repair');
    const dir = await copyMigrations();
    expect((await runCli(database, ['up'], { migrationsDir: dir })).code).toBe(0);
    await writeFile(join(dir, HEAD, 'verify.sql'), "SELECT 'worker_heartbeats exists (hot fix)' AS check_name, to_regclass('public.worker_heartbeats') IS NOT NULL AS ok;");
    expect((await runCli(database, ['status'], { migrationsDir: dir })).code).toBe(1);
    const repair = await runCli(database, ['repair', '--reason', 'verify script fixed by hand'], { migrationsDir: dir });
    expect(repair.code, repair.err).toBe(0);
    expect((await runCli(database, ['status'], { migrationsDir: dir })).code).toBe(0);
    const events = await auditEvents(database);
    expect(events.map((e) => e.action)).toEqual(['migration.repair']);
    expect(events[0]?.reason).toBe('verify script fixed by hand');
    expect(JSON.stringify(events[0]?.details)).toContain(HEAD);
    expect(events[0]).toMatchObject({ kind: 'event', job_id: null, request_id: null });
    // The event is signed and chained like every entry: the full chain check passes after it.
    const verify = await runCli(database, ['verify'], { migrationsDir: dir });
    expect(verify.code, `${verify.out}\n${verify.err}`).toBe(0);
    expect(verify.out).toMatch(/passed\s+audit log hash chain intact: full check/);
    expect((await runCli(database, ['repair', '--reason', 'again'], { migrationsDir: dir })).err).toMatch(/MIGRATION_NOTHING_TO_DO/);
  });
});

describe('downgrades that cannot destroy the record', () => {
  it('refuses to drop tables holding rows, naming them and their counts; with --export-and-drop writes the rows first', async () => {
    const database = await freshDatabase('down-refused');
    expect((await runCli(database, ['up'])).code).toBe(0);
    await adminQuery(`INSERT INTO public.worker_heartbeats (worker_id, release, pid, hostname, started_at, last_seen_at)
                      VALUES ('w1', 'r1', 1, 'h', now(), now()), ('w2', 'r1', 2, 'h', now(), now())`, database.name);
    const refused = await runCli(database, ['down', '--to', '20260203_idempotency_ledger']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/MIGRATION_DOWN_REFUSED: .*public\.worker_heartbeats \(2 rows\)/);
    expect(await rows(database, 'SELECT count(*)::int AS n FROM public.worker_heartbeats')).toEqual([{ n: 2 }]);

    const exportDir = await tempDir();
    const forced = await runCli(database, ['down', '--to', '20260203_idempotency_ledger', '--export-and-drop'], { exportDir });
    expect(forced.code, forced.err).toBe(0);
    const path = /exported to (\S+)/.exec(forced.out)?.[1];
    expect(path).toBeDefined();
    const lines = (await readFile(path as string, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { table: string; row: { worker_id: string } });
    expect(lines.map((line) => [line.table, line.row.worker_id]).sort()).toEqual([['public.worker_heartbeats', 'w1'], ['public.worker_heartbeats', 'w2']]);
    expect(await rows(database, `SELECT to_regclass('public.worker_heartbeats') AS t`)).toEqual([{ t: null }]);
  });

  it('treats tables whose origin is unknown (ledger rows older than the record) as adopted and keeps them', async () => {
    const database = await freshDatabase('down-unknown-origin');
    expect((await runCli(database, ['up'])).code).toBe(0);
    await adminQuery(`UPDATE ${LEDGER_TABLE} SET created_tables = NULL WHERE revision = '20260204_worker_runtime'`, database.name);
    const down = await runCli(database, ['down', '--to', '20260203_idempotency_ledger']);
    expect(down.code, down.err).toBe(0);
    expect(down.out).toMatch(/adopted tables kept: public\.worker_heartbeats/);
    expect(await rows(database, `SELECT to_regclass('public.worker_heartbeats') IS NOT NULL AS t`)).toEqual([{ t: true }]);
  });
});

describe('lock_timeout per revision', () => {
  it('fails fast with MIGRATION_BUSY when a revision waits on a busy table, and succeeds when retried', async () => {
    const database = await freshDatabase('busy');
    expect((await runCli(database, ['up'])).code).toBe(0);
    const dir = await copyMigrations();
    const id = '20260301_alter_busy_table';
    await mkdir(join(dir, id));
    await writeFile(join(dir, id, 'revision.json'), JSON.stringify({ previous: HEAD, description: 'alters a busy table' }));
    await writeFile(join(dir, id, 'up.sql'), 'ALTER TABLE public.go_live_state ADD COLUMN IF NOT EXISTS extra int;');
    await writeFile(join(dir, id, 'down.sql'), 'ALTER TABLE public.go_live_state DROP COLUMN IF EXISTS extra;');
    await writeFile(join(dir, id, 'verify.sql'), "SELECT 'x' AS check_name, TRUE AS ok;");

    const holder = new pg.Client({ connectionString: database.url });
    holder.on('error', () => {});
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT * FROM public.go_live_state WHERE id = 1 FOR UPDATE');
    const started = performance.now();
    const busy = await runCli(database, ['up'], { migrationsDir: dir, revisionLockTimeoutMs: 300 });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/MIGRATION_BUSY: revision 20260301_alter_busy_table up waited more than 300 ms/);
    await holder.query('ROLLBACK');
    await holder.end();
    expect((await runCli(database, ['up'], { migrationsDir: dir, revisionLockTimeoutMs: 300 })).code).toBe(0);
  });
});
