import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminDatabaseUrl } from '../helpers/database.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { freePort } from '../helpers/redisServer.js';
import { testRedisUrl } from '../helpers/redis.js';

/**
 * `npm test` starts with a preflight (scripts/preflight.cjs) that names every missing tool and service with the
 * command that installs or starts it, before building anything. Here it runs on a machine made bare: a PATH that
 * holds only node, npm and sh, no Chromium where it looks, and PostgreSQL and Redis URLs on ports nobody listens on.
 */
const findOnPath = (name: string): string => {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  throw new Error(`${name} is not on PATH`);
};

describe('the npm test preflight', () => {
  let bin: string;
  let bare: NodeJS.ProcessEnv;
  beforeAll(async () => {
    bin = await mkdtemp(join(tmpdir(), 'valhalla-bare-path-'));
    await Promise.all([symlink(process.execPath, join(bin, 'node')), symlink(findOnPath('npm'), join(bin, 'npm')), symlink(findOnPath('sh'), join(bin, 'sh'))]);
    const [postgresPort, redisPort] = [await freePort(), await freePort()];
    bare = {
      HOME: process.env.HOME,
      PATH: bin,
      CHROMIUM_PATH: join(bin, 'chromium'),
      DATABASE_URL: `postgresql://postgres@127.0.0.1:${postgresPort}/postgres`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    };
  });
  afterAll(async () => {
    await rm(bin, { recursive: true, force: true });
  });

  it('names every missing tool and service with its install or start command, and exits 1', () => {
    const result = spawnSync(process.execPath, ['scripts/preflight.cjs'], { cwd: REPO_ROOT, env: bare, encoding: 'utf8', timeout: 30_000 });
    expect(result.status, result.stderr).toBe(1);
    expect(result.stdout).toBe('');
    const text = result.stderr;
    expect(text).toContain('npm test needs 8 things this machine lacks (nothing was built or run)');
    expect(text).toMatch(/✗ promtool .*\n\s+Debian\/Ubuntu: sudo apt-get install --no-install-recommends prometheus/);
    expect(text).toMatch(new RegExp(`✗ Chromium at ${bare.CHROMIUM_PATH} .*\\n\\s+Debian: sudo apt-get install --no-install-recommends chromium`));
    expect(text).toContain('CHROMIUM_PATH');
    expect(text).toMatch(/✗ redis-server .*\n\s+Debian\/Ubuntu: sudo apt-get install redis-server/);
    expect(text).toMatch(/✗ redis-cli and redis-sentinel .*\n\s+Debian\/Ubuntu: sudo apt-get install redis-tools redis-sentinel/);
    expect(text).toMatch(/✗ python3 .*\n\s+Debian\/Ubuntu: sudo apt-get install python3/);
    expect(text).toMatch(/✗ git .*\n\s+Debian\/Ubuntu: sudo apt-get install git/);
    expect(text).toMatch(/✗ PostgreSQL at 127\.0\.0\.1:\d+ as postgres \(DATABASE_URL\): not reachable \(ECONNREFUSED\)/);
    expect(text).toContain('pg_hba.conf');
    expect(text).toMatch(/✗ Redis at 127\.0\.0\.1:\d+ \(REDIS_URL\): not reachable \(ECONNREFUSED\)/);
    expect(text).toContain('redis-server --daemonize yes');
  });

  it('names a PostgreSQL that refuses the postgres-without-password login', () => {
    const url = new URL(adminDatabaseUrl());
    url.username = 'valhalla_no_such_role';
    const result = spawnSync(process.execPath, ['scripts/preflight.cjs'], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: url.toString(), REDIS_URL: testRedisUrl() },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toContain('npm test needs one thing this machine lacks');
    expect(result.stderr).toMatch(/✗ PostgreSQL at \S+ as valhalla_no_such_role \(DATABASE_URL\): refused the login/);
  });

  it('is silent and exits 0 on a machine that has everything (this one)', () => {
    const result = spawnSync(process.execPath, ['scripts/preflight.cjs'], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: adminDatabaseUrl(), REDIS_URL: testRedisUrl() },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('stops npm test before it builds anything', () => {
    const result = spawnSync('npm', ['test'], { cwd: REPO_ROOT, env: bare, encoding: 'utf8', timeout: 60_000 });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.status, output).not.toBe(0);
    expect(output).toContain('npm test needs 8 things this machine lacks');
    // npm echoes the script (`> node scripts/check-node.cjs && … npm run build …`); nothing after it ran.
    const ran = output
      .split('\n')
      .filter((line) => !line.startsWith('> '))
      .join('\n');
    expect(ran).not.toMatch(/turbo|@valhalla\/|eslint|vitest|RUN/);
  });
});
