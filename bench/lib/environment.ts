import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });

export const withDatabase = (adminUrl: string, database: string): string => {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
};

/** A database and a queue prefix of the benchmark's own, removed afterwards. */
export const createBenchEnvironment = async (options: { adminDatabaseUrl: string; redisUrl: string }) => {
  const id = randomBytes(3).toString('hex');
  const database = `valhalla_bench_${id}`;
  const admin = new pg.Client({ connectionString: options.adminDatabaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  return {
    id,
    databaseUrl: withDatabase(options.adminDatabaseUrl, database),
    redisUrl: options.redisUrl,
    prefix: `bull-bench-${id}`,
    drop: async () => {
      const client = new pg.Client({ connectionString: options.adminDatabaseUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await client.end();
      const redis = new Redis(options.redisUrl);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `bull-bench-${id}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
    },
  };
};

export type BenchProcess = {
  child: ChildProcess;
  output: () => string;
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  /** Peak resident set size (VmHWM) in MB, read from /proc while the process runs. */
  peakRssMb: () => number;
  stop: () => Promise<void>;
};

/**
 * The node flags of the production start command (`start:api` / `start:worker` in package.json, which render.yaml,
 * the Dockerfile and compose repeat), so the benchmark measures the processes as they are deployed.
 */
export const productionNodeFlags = (script: 'start:api' | 'start:worker'): string[] => {
  const scripts = (JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
  const words = (scripts[script] ?? '').split(/\s+/);
  return words.slice(1).filter((word) => word.startsWith('--'));
};

export const startProcess = (script: string, env: Record<string, string>, nodeFlags: readonly string[] = []): BenchProcess => {
  const child = spawn(process.execPath, [...nodeFlags, script], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The last ~200 kB of output, kept as chunks and joined only when read: a worker logging every job must not make
  // the bench copy a long string per chunk while it measures.
  const chunks: string[] = [];
  let kept = 0;
  const keep = (chunk: Buffer) => {
    const text = chunk.toString();
    chunks.push(text);
    kept += text.length;
    while (kept - (chunks[0]?.length ?? 0) >= 200_000) kept -= chunks.shift()?.length ?? 0;
  };
  const output = () => chunks.join('');
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output,
    waitFor: async (pattern, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output())) {
        if (child.exitCode !== null) throw new Error(`${script} exited: ${output().slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`${script} did not print ${pattern}: ${output().slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    peakRssMb: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
      return kb / 1024;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
};
