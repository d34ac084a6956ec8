import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CONFIGURATION_REFERENCE_COMMAND,
  ENV_SECTIONS,
  parseVariables,
  renderConfigurationReference,
} from '../../packages/core/src/config/env/index.js';
import { loadRepoYaml } from '../deploy/blueprint-checks.js';
import { REPO_ROOT } from '../helpers/processes.js';

type EnvVar = { key: string };
type Service = { name: string; envVars?: EnvVar[]; command?: string[]; environment?: Record<string, string> };

const REFERENCE = 'docs/configuration.md';
const defined = ENV_SECTIONS.flatMap((section) => Object.keys(section.variables));

/** docs/configuration.md is generated from the env module: the one definition of every variable. */
describe(REFERENCE, () => {
  it(`is what ${CONFIGURATION_REFERENCE_COMMAND} writes from the definitions`, () => {
    const committed = readFileSync(join(REPO_ROOT, REFERENCE), 'utf8');
    const generated = renderConfigurationReference();
    // A message rather than a diff of two long strings: what to run is what the reader needs.
    if (committed !== generated) {
      expect.fail(`${REFERENCE} is stale: run \`${CONFIGURATION_REFERENCE_COMMAND}\` and commit the result (edit packages/core/src/config/env/, not the file)`);
    }
  });

  it('defines each variable once, named as an environment variable, with its readers and a doc line', () => {
    expect(defined.filter((name, index) => defined.indexOf(name) !== index)).toEqual([]);
    for (const section of ENV_SECTIONS) {
      for (const [name, variable] of Object.entries(section.variables)) {
        expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
        expect(variable.readBy.length, name).toBeGreaterThan(0);
        expect(variable.doc.trim().length, name).toBeGreaterThan(10);
        expect(variable.type.trim().length, name).toBeGreaterThan(0);
      }
    }
  });

  it('parses an empty environment: every default is a valid value', () => {
    for (const section of ENV_SECTIONS) expect(() => parseVariables({}, section.variables)).not.toThrow();
  });

  it('lists every variable render.yaml sets', () => {
    const blueprint = loadRepoYaml('render.yaml') as { services: Service[] };
    const set = blueprint.services.flatMap((service) => (service.envVars ?? []).map((envVar) => envVar.key));
    expect(set.length).toBeGreaterThan(10);
    expect([...new Set(set)].filter((name) => !defined.includes(name))).toEqual([]);
  });

  it('lists every variable docker-compose.yml sets on the services it builds from this repository', () => {
    const compose = loadRepoYaml('docker-compose.yml') as { services: Record<string, Service> };
    const ours = Object.values(compose.services).filter((service) => service.command?.some((part) => part.startsWith('apps/')));
    expect(ours.length).toBe(3);
    const set = ours.flatMap((service) => Object.keys(service.environment ?? {}));
    expect([...new Set(set)].filter((name) => !defined.includes(name))).toEqual([]);
  });
});
