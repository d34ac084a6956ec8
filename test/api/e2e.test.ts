import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.js';
import { createTestRedis, deleteKeysWithPrefix, testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import { ALICE, BOB, quitRedis } from './support.js';
import { startApiProcess, startWorkerProcess } from './processes.js';

const database = useTestDatabase({ poolSize: 2 });

type JobView = { id: string; queue: string; name: string; state: string; attempts: number; result: unknown; error: { code: string; message: string } | null };

describe('end to end: api and worker processes over real sockets', () => {
  it(
    'takes the system live through the API: release, complete, verify, enable; the audit names each actor',
    async () => {
      const prefix = uniqueQueuePrefix('e2e');
      const release = `e2e-${prefix.slice(-8)}`;
      const api = await startApiProcess({ databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix, extra: { RELEASE: release } });
      const worker = startWorkerProcess({
        databaseUrl: database.current.url,
        redisUrl: testRedisUrl(),
        prefix,
        extra: { RELEASE: release, API_URL: api.url },
      });
      const call = async (method: 'GET' | 'POST', path: string, token: string, body?: unknown) => {
        const response = await fetch(`${api.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      const settle = async (jobId: string): Promise<JobView> =>
        waitFor(
          async () => {
            const { status, body } = await call('GET', `/api/jobs/${jobId}`, ALICE.token);
            expect(status).toBe(200);
            const job = body as unknown as JobView;
            return job.state === 'completed' || job.state === 'failed' ? job : false;
          },
          { timeoutMs: 30_000, intervalMs: 50, description: `job ${jobId} to settle` },
        );
      const change = async (path: string, token: string, body: unknown) => {
        const accepted = await call('POST', path, token, body);
        expect(accepted.status).toBe(202);
        expect(accepted.body.status).toBe('queued');
        return settle(accepted.body.jobId as string);
      };
      try {
        await worker.waitForOutput(/worker ready/, 30_000);

        // Too early: the preconditions do not hold, the job fails with the code leading its reason.
        const early = await change('/api/governance/go-live', ALICE.token, { enabled: true, reason: 'too early' });
        expect(early.state).toBe('failed');
        expect(early.error?.code).toBe('PRECONDITION_FAILED');
        expect(early.error?.message).toMatch(/kill_switch_released/);

        expect((await change('/api/governance/kill-switch', ALICE.token, { engaged: false, reason: 'incident closed' })).state).toBe('completed');
        expect(
          (await change('/api/governance/system-metadata', BOB.token, { backend_complete: true, version: '2.0.0', reason: 'backend done' })).state,
        ).toBe('completed');
        const verify = await change('/api/governance/verify', ALICE.token, { release });
        expect(verify).toMatchObject({ state: 'completed', queue: 'verification', name: 'migration-verify', error: null });
        const enable = await change('/api/governance/go-live', ALICE.token, { enabled: true, reason: 'launch' });
        expect(enable).toMatchObject({ state: 'completed', queue: 'governance', name: 'go-live-change', error: null });

        const status = await call('GET', '/api/governance/runbook/status', ALICE.token);
        expect(status.status).toBe(200);
        expect(status.body).toMatchObject({
          live: true,
          go_live_state: { go_live_enabled: true, kill_switch_engaged: false, changed_by: ALICE.actor, reason: 'launch' },
          system_metadata: { backend_complete: true, version: '2.0.0' },
          migrations: { pending: [] },
          last_verification: { passed: true },
        });
        expect((status.body.workers as { alive: number }).alive).toBeGreaterThanOrEqual(1);

        const audit = await call('GET', '/api/governance/audit?limit=200', ALICE.token);
        // Change entries only: the keyed chain also records events (its upgrade, the signing key).
        const entries = (audit.body.items as { kind: string; action: string; actor: string; outcome: string; reason: string }[])
          .filter((item) => item.kind === 'change')
          .map(({ action, actor, outcome, reason }) => ({ action, actor, outcome, reason }));
        expect(entries).toEqual([
          { action: 'go_live.enable', actor: ALICE.actor, outcome: 'applied', reason: 'launch' },
          { action: 'metadata.update', actor: BOB.actor, outcome: 'applied', reason: 'backend done' },
          { action: 'kill_switch.release', actor: ALICE.actor, outcome: 'applied', reason: 'incident closed' },
          { action: 'go_live.enable', actor: ALICE.actor, outcome: 'rejected', reason: 'too early' },
        ]);
        expect(audit.body.next).toBeNull();

        const verifications = await call('GET', '/api/governance/verifications', ALICE.token);
        const runs = verifications.body.items as { release: string; passed: boolean; checks: { name: string; status: string }[] }[];
        expect(runs.some((run) => run.release === release && run.passed && run.checks.length > 0)).toBe(true);

        expect((await fetch(`${api.url}/health`)).status).toBe(200);
      } finally {
        const [apiExit, workerExit] = await Promise.all([api.process.stop('SIGTERM'), worker.stop('SIGTERM')]);
        const redis = createTestRedis();
        await deleteKeysWithPrefix(redis, prefix);
        await quitRedis(redis);
        expect(apiExit).toEqual({ code: 0, signal: null });
        expect(workerExit).toEqual({ code: 0, signal: null });
      }
    },
  );
});
