import type { GovernanceChangeRequest } from '../../packages/core/src/index.js';
import { describe, expect, it } from 'vitest';
import { createChangeBatcher } from '../../apps/worker/src/processors/changeBatcher.js';

const request = (jobId: string, action: GovernanceChangeRequest['payload']['action']): GovernanceChangeRequest =>
  ({ jobId, payload: { action, actor: 'a', reason: 'r' }, migrationHead: 'h' }) as GovernanceChangeRequest;

const result = (jobId: string) => ({ ok: true as const, execution: { result: { auditId: Number(jobId.slice(1)) } as never, replayed: false } });

describe('createChangeBatcher', () => {
  it('batches what waits behind a commit; a waiting engage gets the next batch to itself', async () => {
    const batches: string[][] = [];
    let releaseFirst: () => void = () => {};
    const firstCommit = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    const batcher = createChangeBatcher({
      maxBatch: 3,
      apply: async (requests) => {
        batches.push(requests.map((r) => r.jobId));
        if (batches.length === 1) await firstCommit;
        return requests.map((r) => (r.jobId === 'r4' ? { ok: false as const, error: new Error('alone') } : result(r.jobId)));
      },
    });
    const first = batcher.submit(request('r1', 'kill_switch.release'));
    await new Promise((resolve) => setImmediate(resolve));
    const behind = ['r2', 'r3', 'r4', 'r5'].map((id) => batcher.submit(request(id, 'kill_switch.release')));
    const engage = batcher.submit(request('e6', 'kill_switch.engage'));
    expect(batcher.pending).toBe(5);
    releaseFirst();
    expect((await engage).result.auditId).toBe(6);
    expect((await first).result.auditId).toBe(1);
    const settled = await Promise.allSettled(behind);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(batches).toEqual([['r1'], ['e6'], ['r2', 'r3', 'r4'], ['r5']]);
  });
});
