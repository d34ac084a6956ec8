import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../packages/core/src/index.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { loadRepoYaml } from './blueprint-checks.js';

/**
 * docs/deploy-render.md is walked secret by secret against render.yaml: a first deploy fails (exit 78) when the guide
 * forgets a variable the Blueprint asks for, so every `sync: false` variable must be in its secrets table with a
 * command that makes it, and those commands, run as printed, must make values production accepts. The region, the
 * Alembic revisions it says are adopted, and the links of the operator docs are checked against the repository.
 */
type EnvVar = { key: string; sync?: boolean; value?: unknown };
type Resource = { name: string; region?: string; envVars?: EnvVar[] };
const blueprint = loadRepoYaml('render.yaml') as { services: Resource[]; databases?: Resource[] };
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const guide = read('docs/deploy-render.md');

/** The rows of the guide's secrets table: variable → the command in its "how to make it" cell. */
const secretRows = (): Map<string, string> => {
  const rows = new Map<string, string>();
  for (const line of guide.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const variable = /^`([A-Z_]+)`$/.exec(cells[1] ?? '')?.[1];
    const command = /`([^`]+)`/.exec(cells[4] ?? '')?.[1];
    if (variable !== undefined && command !== undefined && cells.length === 6) rows.set(variable, command);
  }
  return rows;
};

describe('docs/deploy-render.md against render.yaml', () => {
  it('lists every variable the Blueprint asks for (sync: false), each with the command that makes it', () => {
    const asked = [...new Set(blueprint.services.flatMap((service) => (service.envVars ?? []).filter((env) => env.sync === false).map((env) => env.key)))];
    expect(asked).toEqual(expect.arrayContaining(['GOVERNANCE_TOKENS', 'AUDIT_HMAC_KEYS']));
    const rows = secretRows();
    expect(asked.filter((key) => !rows.has(key)), 'sync: false variables missing from the secrets table').toEqual([]);
    // The step that creates the Blueprint names each one too.
    for (const key of asked) expect(guide).toMatch(new RegExp(`paste the values of step 3[^]*\`${key}\``));
  });

  it('makes, with the commands as printed, secrets that the api accepts in production', () => {
    const rows = secretRows();
    const made = Object.fromEntries(
      [...rows].map(([key, command]) => [
        key,
        // `npx valhalla …` is the repository's CLI; the rest is plain shell.
        execFileSync('bash', ['-euo', 'pipefail', '-c', command], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 }).trim(),
      ]),
    );
    expect(made.GOVERNANCE_TOKENS).toMatch(/^alice:\S{24,}$/);
    expect(made.AUDIT_HMAC_KEYS).toMatch(/^k2026a:\S{32,}$/);
    const config = loadConfig(
      { NODE_ENV: 'production', DATABASE_URL: 'postgresql://valhalla@db:5432/valhalla', REDIS_URL: 'redis://redis:6379', ...made },
      'api',
    );
    expect(config.nodeEnv).toBe('production');
  });

  it('names the one region every resource is pinned to', () => {
    const regions = new Set([...blueprint.services, ...(blueprint.databases ?? [])].map((resource) => resource.region));
    expect(regions.size).toBe(1);
    const [region] = [...regions];
    expect(guide).toContain(`Every resource is pinned to \`region: ${region}\``);
  });

  it('says which Alembic revisions are adopted: the first two of the chain, the ones the Python service has', () => {
    const [root, coreTables] = readdirSync(join(REPO_ROOT, 'migrations'))
      .filter((name) => /^\d{8}_/.test(name))
      .sort();
    expect([root, coreTables]).toEqual(['20260113_golive_merge', '20260121_go_live_core_tables']);
    expect(guide.replace(/\s+/g, ' ')).toContain(`\`public.alembic_version\` at \`${root}\` or \`${coreTables}\``);
  });
});
