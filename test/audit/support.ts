import type { Job } from 'bullmq';
import { applyGovernanceChange, createAuditKeyring, createLogger, DEVELOPMENT_AUDIT_KEY, type AuditKeyring, type DatabasePool, upsertWorkerHeartbeat } from '../../packages/core/src/index.js';
import { JOB_NAMES, QUEUES, type VerificationCheck } from '../../packages/contract/src/index.js';
import { createMigrator } from '../../packages/core/src/migrator/index.js';
import { runMigrateCommand } from '../../apps/cli/src/runMigrateCommand.js';
import { createMigrationVerifyProcessor } from '../../apps/worker/src/index.js';
import { adminQuery, type TestDatabase } from '../helpers/database.js';
import { MIGRATIONS_DIR } from '../helpers/globalSetup.js';

export const DEV_KEYRING = createAuditKeyring([DEVELOPMENT_AUDIT_KEY]);

/** Real governance changes through the product's change transaction: each writes a signed change entry. */
export const applyChanges = async (pool: DatabasePool, count: number, keyring: AuditKeyring = DEV_KEYRING, prefix = 'change'): Promise<void> => {
  for (let i = 0; i < count; i += 1) {
    await applyGovernanceChange(
      pool,
      {
        jobId: `${prefix}-${i}`,
        payload: { action: i % 2 === 0 ? 'kill_switch.release' : 'kill_switch.engage', actor: 'ops', reason: `change ${i}` },
      },
      { keyring, migrationHead: 'test' },
    );
  }
};

let jobCounter = 0;

/** Runs the worker's migration-verify processor (the verify job) against the database; returns its checks. */
export const verifyJob = async (
  database: TestDatabase,
  options: { keyring?: AuditKeyring; auditCheck?: 'full' | 'incremental' } = {},
): Promise<{ passed: boolean; checks: VerificationCheck[] }> => {
  const migrator = createMigrator({ db: database.pool, migrationsDir: MIGRATIONS_DIR });
  const processor = createMigrationVerifyProcessor({
    pool: database.pool,
    migrator,
    migrationHead: (await migrator.chain()).head,
    release: 'test',
    apiUrl: undefined,
    auditKeyring: options.keyring ?? DEV_KEYRING,
    changeMaxAgeSeconds: 3600,
  });
  // The verify job also checks that a worker of the verified release is alive: this process stands in for it.
  await upsertWorkerHeartbeat(database.pool, { workerId: `audit-test-${process.pid}`, release: 'test', pid: process.pid, hostname: 'test', startedAt: new Date() });
  jobCounter += 1;
  const data = { actor: 'ops', ...(options.auditCheck === undefined ? {} : { auditCheck: options.auditCheck }) };
  const job = { id: `verify-${process.pid}-${jobCounter}`, name: JOB_NAMES.migrationVerify, queueName: QUEUES.verification, data, timestamp: Date.now(), opts: {} } as unknown as Job;
  const result = await processor(job, createLogger({ name: 'test', level: 'silent' }));
  return { passed: result.value.passed, checks: result.value.checks };
};

/** `npm run migrate -- verify` as the CLI runs it; returns the exit code and its output lines. */
export const migrateVerify = async (database: TestDatabase, keyring: AuditKeyring = DEV_KEYRING) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runMigrateCommand(
    ['verify'],
    { databaseUrl: database.url, migrationsDir: MIGRATIONS_DIR, auditKeyring: keyring },
    { out: (line) => out.push(line), err: (line) => err.push(line) },
  );
  return { code, out, err };
};

/** SQL run as the database owner with the audit table's triggers off: what someone with write access can do. */
export const tamper = async (database: TestDatabase, statements: string): Promise<void> => {
  await adminQuery(
    `ALTER TABLE public.governance_audit_log DISABLE TRIGGER USER;
     ${statements}
     ALTER TABLE public.governance_audit_log ENABLE TRIGGER USER;`,
    database.name,
  );
};

export const chainCheck = (checks: readonly VerificationCheck[]) => checks.find((check) => check.name === 'audit log hash chain intact');
