import type { GovernanceChangeRequest } from '../../packages/core/src/index.js';
import { describe, expect, it } from 'vitest';
import { createChangeBatcher } from '../../apps/worker/src/processors/changeBatcher.js';

const request = (jobId: string, action: GovernanceChangeRequest['payload']['action']): GovernanceChangeRequest =>
  ({ jobId, payload: { action, actor: 'a', reason: 'r' } }) as GovernanceChangeRequest;

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

  it('hands back a batch that committed before an engage only after the engage was acknowledged, the engage first', async () => {
    const settledOrder: string[] = [];
    const applied: string[] = [];
    let releaseFirst: () => void = () => {};
    const firstCommit = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let firstDone: () => void = () => {};
    const firstApplied = new Promise<void>((resolve) => {
      firstDone = resolve;
    });
    const batcher = createChangeBatcher({
      maxBatch: 8,
      apply: async (requests) => {
        applied.push(requests.map((r) => r.jobId).join(','));
        if (applied.length === 1) {
          await firstCommit;
          setImmediate(firstDone);
        }
        return requests.map((r) => result(r.jobId));
      },
    });
    const track = (id: string, action: GovernanceChangeRequest['payload']['action']) =>
      batcher.submit(request(id, action)).then(() => settledOrder.push(id));
    const first = [track('r1', 'kill_switch.release'), track('r2', 'go_live.enable')];
    await new Promise((resolve) => setImmediate(resolve));
    // The engage does not wait for the batch in flight to be handed back: it is applied at once (in PostgreSQL its
    // transaction would queue for the row lock right behind that batch's).
    const engage = track('e3', 'kill_switch.engage');
    const later = track('r4', 'kill_switch.release');
    await engage;
    expect(applied).toEqual(['r1,r2', 'e3']);
    releaseFirst();
    await firstApplied;
    // r1 and r2 committed, but they wait for the engage's acknowledgement; no other batch starts meanwhile.
    expect(settledOrder).toEqual(['e3']);
    expect(applied).toEqual(['r1,r2', 'e3']);
    batcher.acknowledged('e3');
    await Promise.all([...first, later]);
    expect(settledOrder).toEqual(['e3', 'r1', 'r2', 'r4']);
    expect(applied).toEqual(['r1,r2', 'e3', 'r4']);
  });

  it('hands held batches back after a bounded wait when the engage is never acknowledged', async () => {
    const batcher = createChangeBatcher({ maxBatch: 8, apply: async (requests) => requests.map((r) => result(r.jobId)) });
    await batcher.submit(request('e1', 'kill_switch.engage'));
    // Never acknowledged (e.g. moved to delayed for a transient retry): the next change still runs, after the bound
    // (without it, this test would time out).
    await expect(batcher.submit(request('r2', 'kill_switch.release'))).resolves.toMatchObject({ result: { auditId: 2 } });
  });
});
