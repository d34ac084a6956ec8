import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminDatabaseUrl } from '../helpers/database.js';
import { startNodeProcess } from '../helpers/processes.js';
import { testRedisUrl } from '../helpers/redis.js';

/** `npm run bench -- --quick` runs in the suite so the benchmark cannot rot. No timing is asserted. */
describe('benchmark smoke run', () => {
  // The stream, Redis Cluster and Sentinel steps start servers and deployments of their own, and the engage steps stop,
  // freeze and cut processes of their own: minutes on a busy machine (6.5 here with 2 cores shared with other work).
  it('runs every measurement on a few hundred changes and writes a results file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'valhalla-bench-'));
    try {
      const out = join(dir, 'results.json');
      const bench = startNodeProcess('bench/run.ts', ['--quick', '--out', out], { DATABASE_URL: adminDatabaseUrl(), REDIS_URL: testRedisUrl() }, 'bench --quick');
      const exit = await bench.exited;
      expect(exit.code, bench.output()).toBe(0);
      const results = JSON.parse(await readFile(out, 'utf8')) as { quick: boolean; rows: { measure: string; value: number }[] };
      expect(results.quick).toBe(true);
      const measures = results.rows.map((row) => row.measure).join('\n');
      for (const expected of [/change throughput/, /enqueue rate/, /idle change latency p50/, /kill switch behind/, /worker processing path/, /migrate up/, /migration-verify run/, /api peak RSS/, /worker peak RSS/, /audit chain full verification/, /audit chain incremental verification/, /WORKER_CONCURRENCY=4/, /WORKER_CONCURRENCY=64/, /plain-client changes without priority/, /engage through the api, nothing queued/, /engage through the api behind .* WORKER_CONCURRENCY=4/, /engage through the api behind .* WORKER_CONCURRENCY=64/, /engage through the api with Redis stopped/, /engage through the api while a worker is frozen/, /engage posted during a database outage/, /Redis restarted empty with 50 accepted, unapplied changes/, /Redis restarted empty: the worker reconnecting/, /live propagation/, /GET \/live throughput/, /open streams/, /OFREP bulk evaluation 304 throughput/, /OFREP single evaluation latency/, /OpenFeature SDK evaluates valhalla-live false/, /Python client is_live\(\) false/, /pipeline .* without reading/, /connections ended by the edge bounds/, /streams: commit → all 200 clients/, /reconnect storm/, /3-primary Redis Cluster vs one redis-server/, /sentinel: SENTINEL FAILOVER/, /notification latency p99/, /with 10 subscriptions, receivers down/, /change transaction alone/, /outbox drain/]) {
        expect(measures).toMatch(expected);
      }
      for (const row of results.rows) expect(Number.isFinite(row.value), row.measure).toBe(true);
      // A quick run cannot judge targets: no verdict in the file, no target column in the table; it says where it wrote.
      expect(results.rows.filter((row) => 'met' in row)).toEqual([]);
      expect(bench.output()).toMatch(/^measure +value +baseline +ratio$/m);
      expect(bench.output()).not.toMatch(/✘|'NO'/);
      expect(bench.output()).toContain(`results written to ${out}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
