import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { freePort } from '../helpers/redisServer.js';
import { bearer, startApi, useApi, type ApiHarness } from './support.js';

const api = useApi();

type Labels = Record<string, string>;

/** The value of one series in Prometheus text format, or undefined when the series is absent. */
const sample = (text: string, name: string, labels: Labels = {}): number | undefined => {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.keys(found).length === Object.keys(labels).length && Object.entries(labels).every(([key, value]) => found[key] === value)) {
      return Number(match[3]);
    }
  }
  return undefined;
};

const scrape = async (harness: ApiHarness = api.current): Promise<string> => {
  const response = await harness.app.inject({ method: 'GET', url: '/metrics' });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain/);
  return response.body;
};

const requests = (text: string, labels: Labels) => sample(text, 'valhalla_http_requests_total', labels) ?? 0;

describe('GET /metrics', () => {
  it('is public Prometheus text with the default process metrics and the build info', async () => {
    const text = await scrape();
    expect(text).toContain('# TYPE valhalla_http_requests_total counter');
    expect(text).toContain('# TYPE valhalla_http_request_duration_seconds histogram');
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeDefined();
    expect(sample(text, 'valhalla_build_info', { release: api.current.config.release })).toBe(1);
  });

  it('counts and times each request by route pattern and status code; unknown routes share one label', async () => {
    const health = { method: 'GET', route: '/health', status_code: '200' };
    const job = { method: 'GET', route: '/api/jobs/:id', status_code: '404' };
    const unmatched = { method: 'GET', route: 'unmatched', status_code: '404' };
    const before = await scrape();

    await api.current.app.inject({ method: 'GET', url: '/health' });
    await api.current.app.inject({ method: 'GET', url: `/api/jobs/job-${randomUUID()}`, headers: bearer() });
    const secretPath = `/no-such-route-${randomUUID()}`;
    await api.current.app.inject({ method: 'GET', url: secretPath });
    await api.current.app.inject({ method: 'GET', url: `/another-${randomUUID()}?token=x` });

    const after = await scrape();
    expect(requests(after, health)).toBe(requests(before, health) + 1);
    expect(requests(after, job)).toBe(requests(before, job) + 1);
    expect(requests(after, unmatched)).toBe(requests(before, unmatched) + 2);
    expect(sample(after, 'valhalla_http_request_duration_seconds_count', health)).toBe(
      (sample(before, 'valhalla_http_request_duration_seconds_count', health) ?? 0) + 1,
    );
    expect(sample(after, 'valhalla_http_request_duration_seconds_bucket', { ...health, le: '+Inf' })).toBeGreaterThan(0);
    // Raw URLs (ids, paths, query strings) and tokens never become labels.
    expect(after).not.toContain(secretPath);
    expect(after).not.toMatch(/job-[0-9a-f]{8}-/);
    expect(after).not.toContain(bearer().authorization.slice('Bearer '.length));
  });

  it('shows queue depth per queue and state, read at scrape time', async () => {
    const depth = (text: string, queue: string, state: string) => sample(text, 'valhalla_queue_jobs', { queue, state });
    const before = await scrape();
    for (const state of ['waiting', 'active', 'delayed', 'failed']) {
      expect(depth(before, 'governance', state)).toBeTypeOf('number');
      expect(depth(before, 'verification', state)).toBeTypeOf('number');
    }
    // Prioritised jobs (every catalog job has a priority) count as waiting. Releases: engages go to governance-safety.
    for (let i = 0; i < 3; i += 1) {
      const response = await api.current.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: { engaged: false, reason: `r${i}` }, headers: bearer() });
      expect(response.statusCode).toBe(202);
    }
    await api.current.app.inject({ method: 'POST', url: '/api/governance/verify', payload: {}, headers: bearer() });
    await api.current.queues.byName.governance.add('go-live-change', {}, { jobId: `delayed-${randomUUID()}`, delay: 60_000 });

    const after = await scrape();
    expect(depth(after, 'governance', 'waiting')).toBe((depth(before, 'governance', 'waiting') ?? 0) + 3);
    expect(depth(after, 'verification', 'waiting')).toBe((depth(before, 'verification', 'waiting') ?? 0) + 1);
    expect(depth(after, 'governance', 'delayed')).toBe((depth(before, 'governance', 'delayed') ?? 0) + 1);
  });

  it('reads live, go_live_enabled and kill_switch_engaged from go_live_state at scrape time', async () => {
    const pool = api.current.database.pool;
    const before = await scrape();
    expect(sample(before, 'valhalla_live')).toBe(0);
    expect(sample(before, 'valhalla_go_live_enabled')).toBe(0);
    expect(sample(before, 'valhalla_kill_switch_engaged')).toBe(1);
    await pool.query(sql.unsafe`UPDATE public.go_live_state SET go_live_enabled = true, kill_switch_engaged = false WHERE id = 1`);
    try {
      const after = await scrape();
      expect(sample(after, 'valhalla_live')).toBe(1);
      expect(sample(after, 'valhalla_go_live_enabled')).toBe(1);
      expect(sample(after, 'valhalla_kill_switch_engaged')).toBe(0);
    } finally {
      await pool.query(sql.unsafe`UPDATE public.go_live_state SET go_live_enabled = false, kill_switch_engaged = true WHERE id = 1`);
    }
    expect(sample(await scrape(), 'valhalla_live')).toBe(0);
  });

  it('shows the last verification of the current migration head and its age, absent until there is one', async () => {
    const pool = api.current.database.pool;
    const status = await api.current.app.inject({ method: 'GET', url: '/api/governance/runbook/status', headers: bearer() });
    const head = status.json<{ migrations: { head: string } }>().migrations.head;
    const before = await scrape();
    expect(sample(before, 'valhalla_last_verification_passed')).toBeUndefined();
    expect(sample(before, 'valhalla_last_verification_age_seconds')).toBeUndefined();

    const insert = (jobId: string, passed: boolean, agoSeconds: number, migrationHead = head) =>
      pool.query(sql.unsafe`
        INSERT INTO public.verification_runs (job_id, release, migration_head, actor, started_at, finished_at, passed, checks)
        VALUES (${jobId}, 'r1', ${migrationHead}, 'alice', now() - make_interval(secs => ${agoSeconds + 1}), now() - make_interval(secs => ${agoSeconds}), ${passed}, '[]')`);
    // A run of another head says nothing about this one (the worker's gauge always meant this; the api's now does).
    await insert('metrics-v0', true, 5, 'another-head');
    expect(sample(await scrape(), 'valhalla_last_verification_passed')).toBeUndefined();
    await insert('metrics-v1', true, 600);
    let text = await scrape();
    expect(sample(text, 'valhalla_last_verification_passed')).toBe(1);
    expect(sample(text, 'valhalla_last_verification_age_seconds')).toBeGreaterThanOrEqual(599);
    expect(sample(text, 'valhalla_last_verification_age_seconds')).toBeLessThan(660);

    await insert('metrics-v2', false, 30);
    text = await scrape();
    expect(sample(text, 'valhalla_last_verification_passed')).toBe(0);
    expect(sample(text, 'valhalla_last_verification_age_seconds')).toBeGreaterThanOrEqual(29);
    expect(sample(text, 'valhalla_last_verification_age_seconds')).toBeLessThan(90);
  });

  it('answers 200 with what it can read when Redis is down, and counts the scrape error', async () => {
    const port = await freePort();
    const down = await startApi(api.current.database, { redisUrl: () => `redis://127.0.0.1:${port}` });
    try {
      const started = Date.now();
      const text = await scrape(down);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(sample(text, 'valhalla_scrape_errors_total', { source: 'redis' })).toBe(1);
      expect(sample(text, 'valhalla_metrics_source_up', { source: 'redis' })).toBe(0);
      expect(sample(text, 'valhalla_metrics_source_up', { source: 'database' })).toBe(1);
      expect(text).not.toMatch(/^valhalla_queue_jobs\{/m);
      // The database still answers: its gauges are there.
      expect(sample(text, 'valhalla_kill_switch_engaged')).toBe(1);
      expect(sample(await scrape(down), 'valhalla_scrape_errors_total', { source: 'redis' })).toBe(2);
    } finally {
      await down.close();
    }
  });

  it('keeps a registry per server: two servers count their own requests', async () => {
    const second = await startApi(api.current.database);
    try {
      // /openapi.json has no dependency: a slow database under load cannot turn it into a 503 with other labels.
      const labels = { method: 'GET', route: '/openapi.json', status_code: '200' };
      const first = requests(await scrape(), labels);
      await second.app.inject({ method: 'GET', url: '/openapi.json' });
      await second.app.inject({ method: 'GET', url: '/openapi.json' });
      expect(requests(await scrape(second), labels)).toBe(2);
      expect(requests(await scrape(), labels)).toBe(first);
    } finally {
      await second.close();
    }
  });
});
