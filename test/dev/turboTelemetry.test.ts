import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/processes.js';

/**
 * turbo prints its telemetry notice on every machine whose user config has not seen it (each CI runner, container, a
 * new user's HOME) and then sends usage data. The repository's build runs it with telemetry off: checked with an
 * empty HOME, which is where the notice would show.
 */
describe('the build through turbo', () => {
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'valhalla-home-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('prints no telemetry notice and records no telemetry consent in a new HOME', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
    delete env.TURBO_TELEMETRY_DISABLED;
    delete env.DO_NOT_TRACK;
    // One small workspace (its build is cached): the notice comes before any task runs.
    const result = spawnSync(process.execPath, ['scripts/turbo.cjs', 'run', 'build', '--filter=@valhalla/client'], {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.status, output).toBe(0);
    expect(output).toMatch(/@valhalla\/client:build/);
    expect(output).not.toMatch(/telemetry/i);
    // With telemetry on, turbo writes its consent record (telemetry_alerted) into the user's config folder.
    expect(await readdir(join(home, '.config')).catch(() => [])).not.toContain('turborepo');
  });
});
