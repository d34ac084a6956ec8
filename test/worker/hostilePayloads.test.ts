import { describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { JOB_NAMES, QUEUES } from '../../packages/contract/src/index.js';
import { auditCount, currentSnapshot, startInProcessWorker, useWorkerFixture, waitForJob } from './support/workerHarness.js';

const fixture = useWorkerFixture('hostile');

const HOSTILE = {
  NUL: 'before\u0000after',
  'a lone high surrogate': 'before\uD800after',
  'a lone low surrogate': 'before\uDC00',
  'an escape character': 'before\u001B[31mafter',
  'a C1 control character': 'before\u0085after',
} as const;

describe('hostile payloads added straight to BullMQ', () => {
  it('fail at once with a final INVALID_PAYLOAD naming the field: no retry, nothing stored, state untouched', async () => {
    const { database, prefix, producer } = fixture.current;
    const worker = await startInProcessWorker(database, prefix);
    const before = await currentSnapshot(database.pool);
    try {
      const governance = producer.queues.byName[QUEUES.governance];
      const verification = producer.queues.byName[QUEUES.verification];
      const cases: { id: string; field: string }[] = [];
      // A producer that asks for many attempts: a final failure uses none of them.
      const options = { attempts: 10, backoff: { type: 'fixed', delay: 10 }, priority: 1 };
      let n = 0;
      for (const [what, bad] of Object.entries(HOSTILE)) {
        const base = { action: 'kill_switch.engage', actor: 'ops', reason: 'r' };
        const payloads: [string, Record<string, unknown>][] = [
          ['reason', { ...base, reason: bad }],
          ['actor', { ...base, actor: bad }],
          ['metadata.notes', { ...base, action: 'metadata.update', metadata: { notes: bad } }],
        ];
        for (const [field, data] of payloads) {
          const id = `hostile-${n++}`;
          await governance.add(JOB_NAMES.goLiveChange, data, { ...options, jobId: id });
          cases.push({ id, field: `${field} (${what})` });
        }
        const id = `hostile-${n++}`;
        await verification.add(JOB_NAMES.migrationVerify, { actor: 'ops', release: bad }, { ...options, jobId: id });
        cases.push({ id, field: `release (${what})` });
      }
      for (const { id, field } of cases) {
        const outcome = await waitForJob(producer, id);
        expect(outcome.state, field).toBe('failed');
        expect(outcome.attemptsMade, field).toBe(1);
        expect(outcome.failure, field).toMatchObject({ code: 'INVALID_PAYLOAD', final: true });
        expect(outcome.failure?.message, field).toContain(field.split(' ')[0]);
      }
      expect(await auditCount(database.pool)).toBe(0);
      expect(await database.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.verification_runs WHERE job_id LIKE 'hostile-%'`)).toBe(0);
      expect(await currentSnapshot(database.pool)).toEqual(before);
    } finally {
      await worker.close();
    }
  });
});
