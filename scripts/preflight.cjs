/*
 * `npm test` preflight: names every system tool and service the suite needs that this machine lacks, with the
 * command that installs or starts it, and stops before anything is built. Without it a plain clone found out one
 * failing test at a time (promtool, Chromium, a PostgreSQL that lets `postgres` in on loopback).
 *
 * The services are found the way the suite finds them (test/helpers/services.ts): DATABASE_URL / REDIS_URL when set,
 * else PostgreSQL on 127.0.0.1:5432 (user postgres, no password) and Redis on 127.0.0.1:6379, else containers where
 * Docker exists. Runs after check-node.cjs (Node 24) and `npm ci` (it uses the pg and ioredis of node_modules).
 * Silent and exit 0 when everything is there; otherwise the list on stderr and exit 1.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { URL } = require('url');

const LOCAL_POSTGRES = 'postgresql://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';
const TIMEOUT_MS = 3000;

/** True when `name` is an executable file in a folder of PATH. */
const onPath = (name, env) =>
  (env.PATH || '')
    .split(path.delimiter)
    .filter((dir) => dir !== '')
    .some((dir) => {
      try {
        fs.accessSync(path.join(dir, name), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });

const isExecutable = (file) => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};

/** Where testcontainers would find Docker (the suite's last resort when no service answers). */
const hasDocker = (env) => (env.DOCKER_HOST || '') !== '' || fs.existsSync('/var/run/docker.sock');

/** Where a URL points, without its password. */
const where = (url) => {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || (parsed.protocol.startsWith('redis') ? '6379' : '5432')}${parsed.username ? ` as ${decodeURIComponent(parsed.username)}` : ''}`;
  } catch {
    return '(a URL that does not parse)';
  }
};

const tools = (env) => {
  const chromium = env.CHROMIUM_PATH || '/usr/bin/chromium';
  return [
    {
      ok: onPath('promtool', env),
      what: 'promtool (checks and unit-tests the Prometheus alert rules, test/ops/observability.test.ts)',
      fix: ['Debian/Ubuntu: sudo apt-get install --no-install-recommends prometheus', 'macOS: brew install prometheus'],
    },
    {
      ok: isExecutable(chromium),
      what: `Chromium at ${chromium} (the console's browser tests, test/console)`,
      fix: [
        'Debian: sudo apt-get install --no-install-recommends chromium',
        'or point CHROMIUM_PATH at a Chromium or Chrome binary, e.g. CHROMIUM_PATH=/usr/bin/google-chrome npm test',
      ],
    },
    {
      ok: onPath('redis-server', env),
      what: 'redis-server (tests that stop and restart a Redis of their own)',
      fix: ['Debian/Ubuntu: sudo apt-get install redis-server', 'macOS: brew install redis'],
    },
    {
      ok: onPath('redis-cli', env) && onPath('redis-sentinel', env),
      what: 'redis-cli and redis-sentinel (the Redis Cluster and Sentinel tests, test/topology, start their own)',
      fix: ['Debian/Ubuntu: sudo apt-get install redis-tools redis-sentinel', 'macOS: brew install redis (both come with it)'],
    },
    {
      ok: onPath('python3', env),
      what: 'python3 (the Python client and its tests; standard library only)',
      fix: ['Debian/Ubuntu: sudo apt-get install python3', 'macOS: xcode-select --install (or brew install python)'],
    },
    {
      ok: onPath('git', env),
      what: 'git (a test clones the committed HEAD as a new user would)',
      fix: ['Debian/Ubuntu: sudo apt-get install git', 'macOS: xcode-select --install'],
    },
  ];
};

const POSTGRES_FIX = [
  'Debian/Ubuntu: sudo apt-get install postgresql && sudo pg_ctlcluster <version> main start (versions: ls /etc/postgresql)',
  '  and let postgres in on loopback without a password: in /etc/postgresql/<version>/main/pg_hba.conf set the method',
  '  of the line "host all all 127.0.0.1/32" to trust, then sudo pg_ctlcluster <version> main reload',
  'or DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/postgres npm test (a user that may CREATE DATABASE)',
];

/** Connects like the suite does and checks it may create the per-file databases. */
const checkPostgres = async (env) => {
  const configured = (env.DATABASE_URL || '') !== '';
  const url = configured ? env.DATABASE_URL : LOCAL_POSTGRES;
  const pg = require('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: TIMEOUT_MS });
  const what = `PostgreSQL at ${where(url)}${configured ? ' (DATABASE_URL)' : ''}`;
  try {
    await client.connect();
    const { rows } = await client.query('SELECT rolcreatedb OR rolsuper AS may FROM pg_roles WHERE rolname = current_user');
    if (rows[0] && rows[0].may === true) return { ok: true };
    return { ok: false, what: `${what}: this user may not CREATE DATABASE (each test file clones a database)`, fix: POSTGRES_FIX };
  } catch (error) {
    // No local server and no DATABASE_URL: the suite starts a container instead, where Docker exists.
    if (!configured && hasDocker(env) && /ECONNREFUSED|timeout|ETIMEDOUT/i.test(String(error && error.message))) return { ok: true };
    const refusedUser = error && (error.code === '28P01' || error.code === '28000');
    return {
      ok: false,
      what: `${what}: ${refusedUser ? 'refused the login (password required, or no such role)' : 'not reachable'} (${(error && (error.code || error.message)) || error})`,
      fix: POSTGRES_FIX,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
};

/** PINGs Redis like the suite does, and checks BullMQ's eviction policy (the verification tests check it too). */
const checkRedis = async (env) => {
  const configured = (env.REDIS_URL || '') !== '';
  const url = configured ? env.REDIS_URL : LOCAL_REDIS;
  const { Redis } = require('ioredis');
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let lastError;
  redis.on('error', (error) => {
    lastError = error;
  });
  const what = `Redis at ${where(url)}${configured ? ' (REDIS_URL)' : ''}`;
  const fix = [
    'Debian/Ubuntu: sudo apt-get install redis-server && redis-server --daemonize yes --bind 127.0.0.1 --save "" --appendonly no',
    'macOS: brew install redis && brew services start redis',
    'or REDIS_URL=redis://HOST:6379 npm test',
  ];
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    if (!configured && hasDocker(env)) return { ok: true };
    const cause = lastError || error;
    return { ok: false, what: `${what}: not reachable (${(cause && (cause.code || cause.message)) || cause})`, fix };
  }
  try {
    const policy = await redis.config('GET', 'maxmemory-policy');
    const value = Array.isArray(policy) ? policy[1] : undefined;
    if (value !== undefined && value !== 'noeviction') {
      return { ok: false, what: `${what}: maxmemory-policy is ${value}; BullMQ needs noeviction`, fix: ['redis-cli config set maxmemory-policy noeviction'] };
    }
    return { ok: true };
  } catch {
    // CONFIG can be disabled (managed Redis): the suite's own checks report the policy then.
    return { ok: true };
  } finally {
    redis.disconnect();
  }
};

const main = async () => {
  const env = process.env;
  let services;
  try {
    services = await Promise.all([checkPostgres(env), checkRedis(env)]);
  } catch (error) {
    // pg or ioredis missing: node_modules is not installed.
    process.stderr.write(`npm test preflight: ${error && error.message}\nRun npm ci first.\n`);
    process.exit(1);
  }
  const missing = [...tools(env), ...services].filter((item) => !item.ok);
  if (missing.length === 0) return;
  const lines = ['', `npm test needs ${missing.length === 1 ? 'one thing' : `${missing.length} things`} this machine lacks (nothing was built or run):`, ''];
  for (const item of missing) {
    lines.push(`  ✗ ${item.what}`);
    for (const fix of item.fix) lines.push(`      ${fix}`);
    lines.push('');
  }
  lines.push('Then run npm test again. The README lists every prerequisite.', '');
  process.stderr.write(lines.join('\n'));
  process.exit(1);
};

void main();
