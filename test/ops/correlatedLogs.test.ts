import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { startApiProcess, startWorkerProcess } from '../api/processes.js';
import { ALICE, quitRedis } from '../api/support.js';
import { useTestDatabase } from '../helpers/database.js';
import type { ManagedProcess } from '../helpers/processes.js';
import { createTestRedis, deleteKeysWithPrefix, testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import { scrape } from './support/prometheus.js';

const database = useTestDatabase({ poolSize: 2 });

type JobView = { id: string; state: string; attempts: number; result: unknown; error: { code: string } | null };
type AuditItem = { job_id: string; request_id: string | null; action: string; outcome: string };

/** Every JSON line the worker wrote about one job. */
const linesOfJob = (worker: ManagedProcess, jobId: string) => worker.logLines().filter((line) => line.jobId === jobId);

describe('correlated logs: X-Request-Id from the API request to the worker log lines and the audit row', () => {
  it('binds requestId on every worker log line of the job (transaction and retry lines included) and stores it in the audit row', async () => {
    const prefix = uniqueQueuePrefix('corr');
    const release = `corr-${prefix.slice(-8)}`;
    // The first attempt of a change whose reason is 'flaky' raises inside its transaction: the job's log then has a
    // rolled-back transaction, a retry, a committed transaction and a completion, all of which must carry the id.
    await database.current.pool.query(sql.unsafe`CREATE SEQUENCE public.test_flaky`);
    await database.current.pool.query(sql.unsafe`
      CREATE FUNCTION public.test_flaky() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.reason = 'flaky' THEN
          IF nextval('public.test_flaky') = 1 THEN RAISE EXCEPTION 'flaky change fails once'; END IF;
        END IF;
        RETURN NEW;
      END $$`);
    await database.current.pool.query(sql.unsafe`
      CREATE TRIGGER test_flaky BEFORE UPDATE ON public.go_live_state FOR EACH ROW EXECUTE FUNCTION public.test_flaky()`);

    const api = await startApiProcess({ databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix, extra: { RELEASE: release } });
    const worker = startWorkerProcess({
      databaseUrl: database.current.url,
      redisUrl: testRedisUrl(),
      prefix,
      // debug: the committed-transaction line is a debug line.
      extra: { RELEASE: release, LOG_LEVEL: 'debug', METRICS_PORT: '0', HOST: '127.0.0.1' },
    });
    const post = async (path: string, body: unknown, requestId: string) => {
      const response = await fetch(`${api.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ALICE.token}`, 'content-type': 'application/json', 'x-request-id': requestId },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(202);
      expect(response.headers.get('x-request-id')).toBe(requestId);
      return ((await response.json()) as { jobId: string }).jobId;
    };
    const get = async <T>(path: string): Promise<T> => {
      const response = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${ALICE.token}` } });
      expect(response.status).toBe(200);
      return (await response.json()) as T;
    };
    const settle = (jobId: string) =>
      waitFor(
        async () => {
          const job = await get<JobView>(`/api/jobs/${jobId}`);
          // A job read as it finishes can show its final state without its error or result yet: read again.
          return (job.state === 'completed' && job.result !== null) || (job.state === 'failed' && job.error !== null) ? job : false;
        },
        { timeoutMs: 20_000, intervalMs: 50, description: `job ${jobId} to settle` },
      );
    /** Waits for the job's final log line, then checks every line of the job carries the request id. */
    const expectCorrelated = async (jobId: string, requestId: string, finalMessage: RegExp) => {
      await waitFor(() => linesOfJob(worker, jobId).some((line) => finalMessage.test(String(line.msg))), {
        description: `the worker to log ${finalMessage} for job ${jobId}`,
      });
      const lines = linesOfJob(worker, jobId);
      for (const line of lines) expect(line, `log line ${JSON.stringify(line)}`).toMatchObject({ requestId });
      // And the other way round: every line naming the request is about this job.
      for (const line of worker.logLines().filter((l) => l.requestId === requestId)) expect(line.jobId).toBe(jobId);
      return lines.map((line) => String(line.msg));
    };

    try {
      await worker.waitForOutput(/"msg":"worker ready"/, 30_000);

      const releaseId = `corr-release-${randomUUID()}`;
      const releaseJob = await post('/api/governance/kill-switch', { engaged: false, reason: 'flaky' }, releaseId);
      const released = await settle(releaseJob);
      expect(released).toMatchObject({ state: 'completed', attempts: 2 });
      const releaseLines = await expectCorrelated(releaseJob, releaseId, /^job completed$/);
      expect(releaseLines).toEqual([
        'change transaction rolled back',
        'job attempt failed unexpectedly',
        'job attempt failed, will retry',
        'change transaction committed',
        'job completed',
      ]);

      const enableId = `corr-enable-${randomUUID()}`;
      const enableJob = await post('/api/governance/go-live', { enabled: true, reason: 'too early' }, enableId);
      expect(await settle(enableJob)).toMatchObject({ state: 'failed', error: { code: 'PRECONDITION_FAILED' } });
      expect(await expectCorrelated(enableJob, enableId, /^job failed without retry$/)).toEqual([
        'change transaction committed',
        'job failed without retry',
      ]);

      const verifyId = `corr-verify-${randomUUID()}`;
      const verifyJob = await post('/api/governance/verify', { release }, verifyId);
      expect(await settle(verifyJob)).toMatchObject({ state: 'completed' });
      expect(await expectCorrelated(verifyJob, verifyId, /^job completed$/)).toContain('job completed');

      // The audit rows, through the API and in the database.
      const audit = await get<{ items: AuditItem[] }>('/api/governance/audit?limit=50');
      expect(audit.items.find((item) => item.job_id === releaseJob)).toMatchObject({ request_id: releaseId, outcome: 'applied' });
      expect(audit.items.find((item) => item.job_id === enableJob)).toMatchObject({ request_id: enableId, outcome: 'rejected' });
      const rows = await database.current.pool.any(
        sql.unsafe`SELECT job_id, request_id FROM public.governance_audit_log WHERE job_id IN (${releaseJob}, ${enableJob}) ORDER BY id`,
      );
      expect(rows).toEqual([
        { job_id: releaseJob, request_id: releaseId },
        { job_id: enableJob, request_id: enableId },
      ]);

      // The built entrypoint serves /metrics on METRICS_PORT and logs the bound port.
      const listening = worker.logLines().find((line) => line.msg === 'metrics listening');
      expect(listening?.port).toEqual(expect.any(Number));
      const metrics = await scrape(listening?.port as number);
      expect(metrics.status).toBe(200);
      expect(metrics.value('valhalla_worker_jobs_retried_total', { queue: 'governance', name: 'go-live-change' })).toBe(1);
      expect(metrics.value('valhalla_worker_transactions_rolled_back_total')).toBe(1);
    } finally {
      const [apiExit, workerExit] = await Promise.all([api.process.stop('SIGTERM'), worker.stop('SIGTERM')]);
      const redis = createTestRedis();
      await deleteKeysWithPrefix(redis, prefix);
      await quitRedis(redis);
      expect(apiExit).toEqual({ code: 0, signal: null });
      expect(workerExit).toEqual({ code: 0, signal: null });
    }
  });
});
