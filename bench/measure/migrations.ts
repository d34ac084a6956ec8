import { spawn } from 'node:child_process';
import { QUEUES } from '@valhalla/contract';
import { REPO_ROOT } from '../lib/environment.ts';
import { postJson } from '../lib/http.ts';
import { createJobWaiter } from '../lib/jobWaiter.ts';
import { median, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

const timeProcess = (script: string, args: string[], env: Record<string, string>): Promise<number> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [script, ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${script} exited ${code}`))));
  });

/** (5) `migrate up` on an up-to-date database (process wall time) and a full migration-verify run through the queue. */
export const measureMigrations = async (ctx: BenchContext): Promise<Row[]> => {
  const samples = ctx.quick ? 2 : 5;
  const up: number[] = [];
  for (let i = 0; i < samples; i += 1) up.push(await timeProcess('apps/cli/dist/migrate.js', ['up'], { DATABASE_URL: ctx.databaseUrl }));

  const waiter = await createJobWaiter({ queues: [QUEUES.verification], prefix: ctx.prefix, redisUrl: ctx.redisUrl });
  const verify: number[] = [];
  try {
    for (let i = 0; i < samples; i += 1) {
      const started = performance.now();
      const response = await postJson(`${ctx.apiUrl}/api/governance/verify`, ctx.token, { release: `bench-${i}` });
      verify.push((await waiter.finishedAt(String(response.body.jobId))) - started);
    }
  } finally {
    await waiter.close();
  }
  return [
    { measure: 'migrate up on an up-to-date database (process wall time)', value: round(median(up), 0), unit: 'ms' },
    { measure: 'migration-verify run (POST → stored run)', value: round(median(verify), 1), unit: 'ms' },
  ];
};
