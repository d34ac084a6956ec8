import { describe, expect, it } from 'vitest';
import { listAuditEntriesInOrder } from '../../packages/core/src/index.js';
import { QUEUES, type ChangeResult } from '../../packages/contract/src/index.js';
import { currentSnapshot, startInProcessWorker, useWorkerFixture, waitForJob } from './support/workerHarness.js';

const fixture = useWorkerFixture('reused-id');

describe('a job id that comes back for a different job', () => {
  it('applies the new job instead of answering with the old job result (BullMQ counters restart when Redis loses its data)', async () => {
    const { database, prefix, producer } = fixture.current;
    const worker = await startInProcessWorker(database, prefix);
    try {
      const governance = producer.queues.byName[QUEUES.governance];
      // Another service enqueues without a job id, as the contract allows: BullMQ hands out its counter ids.
      const first = await governance.add('go-live-change', { action: 'kill_switch.release', actor: 'other-service', reason: 'first' }, { priority: 10 });
      expect(first.id).toBe('1');
      expect(await waitForJob(producer, '1')).toMatchObject({ state: 'completed' });
      expect((await currentSnapshot(database.pool)).kill_switch_engaged).toBe(false);

      // Redis loses its data: the counter starts again, and the next job gets id 1 once more.
      await governance.obliterate({ force: true });
      const again = await governance.add('go-live-change', { action: 'kill_switch.engage', actor: 'other-service', reason: 'second' }, { priority: 1 });
      expect(again.id).toBe('1');
      const second = await waitForJob(producer, '1');
      expect(second.state).toBe('completed');
      expect((second.returnvalue as ChangeResult).action).toBe('kill_switch.engage');
      expect((await currentSnapshot(database.pool)).kill_switch_engaged).toBe(true);

      const entries = (await listAuditEntriesInOrder(database.pool)).filter((entry) => entry.job_id?.startsWith('1') === true);
      // A counter id is keyed with the job's creation time: each of the two jobs has an identity of its own.
      expect(entries.map((entry) => [entry.job_id?.replace(/@\d+$/, '@<created>'), entry.action, entry.outcome])).toEqual([
        ['1@<created>', 'kill_switch.release', 'applied'],
        ['1@<created>', 'kill_switch.engage', 'applied'],
      ]);
      expect(entries[0]?.job_id).toBe(`1@${first.timestamp}`);
      expect(entries[1]?.job_id).toBe(`1@${again.timestamp}`);
    } finally {
      await worker.close();
    }
  });
});
