import pg from 'pg';
import {
  createAuditKeyring,
  createDatabasePool,
  recordAuditCheckpoint,
  signAuditEntries,
  verifyAuditChain,
  type AuditChainHead,
  type AuditEntryInput,
} from '@valhalla/core';
import { createMigrator, defaultMigrationsDir } from '@valhalla/core/migrator';
import { withDatabase } from '../lib/environment.ts';
import { median, round } from '../lib/stats.ts';
import type { Row } from './context.ts';

const keyring = createAuditKeyring([{ id: 'bench', key: 'bench-audit-key-0123456789abcdef0123' }]);
const snapshot = { go_live_enabled: false, kill_switch_engaged: true, live: false, version: '1.0.0', backend_complete: false, notes: null };
const CHUNK = 10_000;

const entry = (n: number): AuditEntryInput => ({
  kind: 'change',
  jobId: `bench-${n}`,
  action: n % 2 === 0 ? 'kill_switch.release' : 'kill_switch.engage',
  outcome: 'applied',
  actor: 'ops:bench',
  reason: `bench change ${n}`,
  before: snapshot,
  after: { ...snapshot, kill_switch_engaged: n % 2 === 1 },
  requestId: `req-${n}`,
});

const INSERT = `
  INSERT INTO public.governance_audit_log
    (id, prev_hash, hash, key_id, created_at, kind, job_id, action, outcome, actor, reason, before, after,
     unmet_conditions, request_id, details)
  SELECT r.id, r.prev_hash, r.hash, r.key_id, r.created_at::timestamptz, r.kind, r.job_id, r.action, r.outcome, r.actor,
         r.reason, r.before, r.after, ARRAY(SELECT jsonb_array_elements_text(r.unmet_conditions)), r.request_id, r.details
  FROM jsonb_to_recordset($1::jsonb) AS r(id BIGINT, prev_hash TEXT, hash TEXT, key_id TEXT, created_at TEXT, kind TEXT,
    job_id TEXT, action TEXT, outcome TEXT, actor TEXT, reason TEXT, before JSONB, after JSONB, unmet_conditions JSONB,
    request_id TEXT, details JSONB)`;

/**
 * Appends `count` signed entries after the current head, in chunks: the same signing code the product uses
 * (signAuditEntries), one set-based INSERT per chunk. The head is read once under the chain lock per chunk.
 */
const appendSigned = async (client: pg.Client, count: number, firstN: number): Promise<void> => {
  for (let done = 0; done < count; done += CHUNK) {
    const size = Math.min(CHUNK, count - done);
    await client.query('BEGIN');
    const head = (
      await client.query<{ head_id: string | null; head_hash: string | null; head_key_id: string | null; now_text: string }>(
        'SELECT head_id, head_hash, head_key_id, now_text FROM public.governance_audit_chain_head()',
      )
    ).rows[0];
    if (head === undefined) throw new Error('governance_audit_chain_head() returned no row');
    const chainHead: AuditChainHead = { id: Number(head.head_id ?? 0), hash: head.head_hash, keyId: head.head_key_id, now: head.now_text };
    const { rows } = signAuditEntries(chainHead, Array.from({ length: size }, (_, i) => entry(firstN + done + i)), keyring);
    await client.query(INSERT, [JSON.stringify(rows)]);
    await client.query('COMMIT');
  }
};

/**
 * (6) Audit-chain verification over a large log (default 1,000,000 rows, `--audit-rows N`), in a database of its
 * own. Timed: `verifyAuditChain` full (every row read, every HMAC recomputed, links, checkpoint and executed-job
 * cross-check) and incremental (the newest checkpoint checked, then the rows after it: 100 new entries per round,
 * plus recording the new checkpoint, as a scheduled verification does). Not timed: generating the rows.
 */
export const measureAuditVerification = async (options: { databaseUrl: string; rows: number; quick: boolean }): Promise<Row[]> => {
  const name = `${new URL(options.databaseUrl).pathname.slice(1)}_audit`;
  const admin = new pg.Client({ connectionString: options.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(options.databaseUrl, name);
  const client = new pg.Client({ connectionString: url });
  const pool = await createDatabasePool({ connectionUri: url, maxPoolSize: 2, applicationName: 'bench-audit', statementTimeoutMs: 120_000 });
  try {
    await createMigrator({ db: pool, migrationsDir: defaultMigrationsDir() }).up();
    await client.connect();
    const generationStarted = performance.now();
    await appendSigned(client, options.rows, 0);
    await client.query('VACUUM ANALYZE public.governance_audit_log');
    const generationMs = performance.now() - generationStarted;

    const full: number[] = [];
    const fullCpu: number[] = [];
    let checkedRows = 0;
    for (let i = 0; i < (options.quick ? 1 : 3); i += 1) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      const report = await verifyAuditChain(pool, keyring, { mode: 'full' });
      full.push(performance.now() - started);
      const cpu = process.cpuUsage(cpuStarted);
      fullCpu.push((cpu.user + cpu.system) / 1000);
      if (!report.intact) throw new Error(`bench chain reported broken: ${report.problem ?? ''}`);
      checkedRows = report.checkedRows;
      if (i === 0 && report.head !== null) await recordAuditCheckpoint(pool, keyring, { headId: report.head.id, headHash: report.head.hash, fullCheck: true });
    }

    const incremental: number[] = [];
    for (let i = 0; i < (options.quick ? 3 : 10); i += 1) {
      await appendSigned(client, 100, options.rows + i * 100);
      const started = performance.now();
      const report = await verifyAuditChain(pool, keyring, { mode: 'incremental' });
      if (!report.intact || report.head === null) throw new Error(`bench chain reported broken: ${report.problem ?? ''}`);
      await recordAuditCheckpoint(pool, keyring, { headId: report.head.id, headHash: report.head.hash, fullCheck: false });
      incremental.push(performance.now() - started);
    }
    const spread = (values: number[]) => `${round(Math.min(...values), 0)}–${round(Math.max(...values), 0)} ms over ${values.length} runs`;
    return [
      {
        measure: `audit chain full verification, ${checkedRows.toLocaleString('en')} rows (median; ${spread(full)})`,
        value: round(median(full), 0),
        unit: 'ms',
        target: '< 15000 ms',
        met: median(full) < 15_000,
      },
      {
        measure: `audit chain incremental verification, 100 new rows after a checkpoint (median; ${spread(incremental)})`,
        value: round(median(incremental), 1),
        unit: 'ms',
        target: '< 200 ms',
        met: median(incremental) < 200,
      },
      {
        measure: 'audit chain full verification: CPU time of the verifying process (median; PostgreSQL\'s share not included)',
        value: round(median(fullCpu), 0),
        unit: 'ms',
      },
      { measure: `generating ${options.rows.toLocaleString('en')} signed audit rows (not a target)`, value: round(generationMs, 0), unit: 'ms' },
    ];
  } finally {
    await pool.end();
    await client.end().catch(() => {});
    const drop = new pg.Client({ connectionString: options.databaseUrl });
    await drop.connect();
    await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await drop.end();
  }
};
