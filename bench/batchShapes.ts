/**
 * One-off comparison behind the group-commit design (README "Kill switch always wins"): 64 changes applied
 * (a) one transaction each, (b) in one transaction with a SAVEPOINT and a write statement per member (slonik nested
 * transactions), (c) in one transaction decided in TypeScript and written set-based (applyGovernanceBatch).
 * Usage: node bench/batchShapes.ts <database url of a migrated database>
 */
import { randomUUID } from 'node:crypto';
import {
  DEVELOPMENT_AUDIT_KEY,
  applyGovernanceBatch,
  applyGovernanceChange,
  commitChanges,
  createAuditKeyring,
  createDatabasePool,
  readAuditChainHead,
  lockGovernanceRows,
  snapshotOf,
  type GovernanceChangeRequest,
} from '@valhalla/core';
import { median, round } from './lib/stats.ts';

const url = process.argv[2];
if (url === undefined) throw new Error('usage: batchShapes.ts <database url>');
const pool = await createDatabasePool({ connectionUri: url, maxPoolSize: 2, applicationName: 'batch-shapes' });
const SIZE = 64;
const keyring = createAuditKeyring([DEVELOPMENT_AUDIT_KEY]);
const options = { keyring, migrationHead: 'bench' };
const requests = (): GovernanceChangeRequest[] =>
  Array.from({ length: SIZE }, (_, i) => ({
    jobId: randomUUID(),
    jobCreatedAt: Date.now(),
    payload: { action: 'metadata.update', actor: 'bench', reason: `shape ${i}`, metadata: { notes: randomUUID() } },
  }));

const perTransaction = async () => {
  for (const request of requests()) await applyGovernanceChange(pool, request, options);
};
const savepoints = async () => {
  await pool.transaction(async (tx) => {
    let state = snapshotOf(await lockGovernanceRows(tx));
    for (const request of requests()) {
      await tx.transaction(async (savepoint) => {
        const notes = request.payload.action === 'metadata.update' ? (request.payload.metadata.notes ?? null) : null;
        const after = { ...state, notes };
        await commitChanges(
          savepoint,
          [{ jobId: request.jobId, queue: 'governance', jobName: 'go-live-change', actor: 'bench', reason: 'shape', requestId: null, result: { outcome: 'applied', action: request.payload.action, before: state, after, unmet: [] } }],
          { goLive: null, watermarks: null, metadata: { after, completedNow: false } },
          { head: await readAuditChainHead(savepoint), keyring },
        );
        state = after;
      });
    }
  });
};
const setBased = async () => {
  const outcomes = await applyGovernanceBatch(pool, requests(), options);
  if (outcomes.some((o) => !o.ok)) throw new Error('a member failed');
};

const times: Record<string, number[]> = { 'one transaction per change': [], 'one transaction, SAVEPOINT per member': [], 'one transaction, set-based write': [] };
for (let round_ = 0; round_ < 5; round_ += 1) {
  for (const [name, run] of [['one transaction per change', perTransaction], ['one transaction, SAVEPOINT per member', savepoints], ['one transaction, set-based write', setBased]] as const) {
    const started = performance.now();
    await run();
    times[name]!.push(performance.now() - started);
  }
}
for (const [name, values] of Object.entries(times)) {
  process.stdout.write(`${name}: ${round(median(values))} ms per ${SIZE} changes (runs: ${values.map((v) => round(v)).join(', ')})\n`);
}
await pool.end();
