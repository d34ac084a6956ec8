import { describe, expect, it } from 'vitest';
import {
  RENDER_API,
  RENDER_WORKER,
  type Problem,
  checkRenderBlueprint,
  checkRenderSemantics,
  clone,
  commandProblems,
  entrypointOf,
  loadRepoFacts,
  loadRepoYaml,
  nodeEntrypointsOf,
  nodeScript,
  simpleCommands,
  startsThroughNpm,
} from './blueprint-checks.js';
import { renderShapeProblems } from './renderBlueprintShape.js';

// Parsed documents are plain JSON-like data; the broken variants below edit them in place.
type Doc = Record<string, any>;

const facts = loadRepoFacts();
const blueprint = loadRepoYaml('render.yaml') as Doc;

function service(doc: Doc, name: string): Doc {
  const found = (doc['services'] as Doc[]).find((s) => s['name'] === name);
  if (!found) throw new Error(`variant cannot be built: no service ${name}`);
  return found;
}

function env(svc: Doc, key: string): Doc {
  const found = (svc['envVars'] as Doc[]).find((e) => e['key'] === key);
  if (!found) throw new Error(`variant cannot be built: no env var ${key}`);
  return found;
}

const keyValue = (doc: Doc): Doc => (doc['services'] as Doc[]).find((s) => s['type'] === 'keyvalue') as Doc;

function expectProblem(problems: Problem[], code: string, mentions?: string): void {
  expect(problems).toContainEqual(expect.objectContaining({ code }));
  if (mentions !== undefined) {
    expect(problems.filter((p) => p.code === code).map((p) => `${p.where} ${p.message}`).join('\n')).toContain(mentions);
  }
}

describe('render.yaml (Render Blueprint)', () => {
  it('has the shape of a Render Blueprint (known keys, required fields, accepted values)', () => {
    expect(renderShapeProblems(blueprint)).toEqual([]);
  });

  it('passes the checks the schema cannot express (references, ordering, commands, plans, policies)', () => {
    expect(checkRenderSemantics(blueprint, facts)).toEqual([]);
  });

  it('runs the migrations as the pre-deploy command of both services, with node on the built migrator', () => {
    for (const name of [RENDER_API, RENDER_WORKER]) {
      expect(service(blueprint, name)['preDeployCommand']).toBe(`node ${entrypointOf(facts, 'migrate')} up`);
    }
  });

  it('starts each service with node on the file its package.json script runs', () => {
    const entrypoints = nodeEntrypointsOf(facts.scripts);
    const api = service(blueprint, RENDER_API)['startCommand'] as string;
    const worker = service(blueprint, RENDER_WORKER)['startCommand'] as string;
    expect(entrypoints.get(nodeScript(simpleCommands(api)[0] ?? [])?.file ?? '')).toBe('start:api');
    expect(entrypoints.get(nodeScript(simpleCommands(worker)[0] ?? [])?.file ?? '')).toBe('start:worker');
  });
});

describe('command checks', () => {
  it('treat npm run, npm start and npm run-script as starting through npm, and node or exec node as direct', () => {
    expect(startsThroughNpm('npm run start:api')).toBe(true);
    expect(startsThroughNpm('npm start')).toBe(true);
    expect(startsThroughNpm(['npm', 'run-script', 'start:worker'])).toBe(true);
    expect(startsThroughNpm('node apps/api/dist/main.js')).toBe(false);
    expect(startsThroughNpm('exec node apps/api/dist/main.js')).toBe(false);
  });

  it('report npm scripts and node files that do not exist', () => {
    expect(commandProblems('npm ci && npm run compile', 'x', facts).map((p) => p.code)).toEqual(['unknown-script']);
    expect(commandProblems('node apps/api/dist/no-such-entrypoint.js', 'x', facts).map((p) => p.code)).toEqual(['unknown-entrypoint']);
    expect(commandProblems('npm ci --include=dev && npm run build', 'x', facts)).toEqual([]);
  });
});

interface BlueprintVariant {
  name: string;
  mutate: (doc: Doc) => void;
  code: string;
  mentions?: string;
}

const blueprintVariants: BlueprintVariant[] = [
  {
    name: 'a misspelled key (healthcheckPath)',
    mutate: (doc) => {
      const api = service(doc, RENDER_API);
      api['healthcheckPath'] = api['healthCheckPath'];
      delete api['healthCheckPath'];
    },
    code: 'structure',
    mentions: 'healthcheckPath',
  },
  {
    name: 'the retired env: key instead of runtime',
    mutate: (doc) => {
      const worker = service(doc, RENDER_WORKER);
      worker['env'] = worker['runtime'];
      delete worker['runtime'];
    },
    code: 'structure',
    mentions: 'runtime',
  },
  {
    name: 'an unquoted PostgreSQL version (a YAML number)',
    mutate: (doc) => {
      (doc['databases'] as Doc[])[0]!['postgresMajorVersion'] = 18;
    },
    code: 'structure',
    mentions: 'postgresMajorVersion',
  },
  {
    name: 'an env var with both a value and a fromService source',
    mutate: (doc) => {
      env(service(doc, RENDER_API), 'REDIS_URL')['value'] = 'redis://localhost:6379';
    },
    code: 'structure',
    mentions: 'exactly one of',
  },
  {
    name: 'a fromService property Render does not offer',
    mutate: (doc) => {
      env(service(doc, RENDER_WORKER), 'REDIS_URL')['fromService']['property'] = 'url';
    },
    code: 'structure',
    mentions: 'fromService.property',
  },
  {
    name: 'a Key Value eviction policy Redis does not know',
    mutate: (doc) => {
      keyValue(doc)['maxmemoryPolicy'] = 'no-eviction';
    },
    code: 'structure',
    mentions: 'maxmemoryPolicy',
  },
  {
    name: 'a background worker with a health check path',
    mutate: (doc) => {
      service(doc, RENDER_WORKER)['healthCheckPath'] = '/health';
    },
    code: 'worker-health-check',
  },
  {
    name: 'a Key Value eviction policy of allkeys-lru',
    mutate: (doc) => {
      keyValue(doc)['maxmemoryPolicy'] = 'allkeys-lru';
    },
    code: 'keyvalue-eviction',
  },
  {
    name: 'a Key Value instance without an explicit policy (Render defaults to allkeys-lru)',
    mutate: (doc) => {
      delete keyValue(doc)['maxmemoryPolicy'];
    },
    code: 'keyvalue-eviction',
  },
  {
    name: 'a Key Value instance open to the internet',
    mutate: (doc) => {
      keyValue(doc)['ipAllowList'] = [{ source: '0.0.0.0/0', description: 'everywhere' }];
    },
    code: 'keyvalue-public',
  },
  {
    name: 'a fromService name that matches no service',
    mutate: (doc) => {
      env(service(doc, RENDER_WORKER), 'REDIS_URL')['fromService']['name'] = 'valhalla-cache';
    },
    code: 'unresolved-reference',
    mentions: 'valhalla-cache',
  },
  {
    name: 'a fromService reference with the wrong service type',
    mutate: (doc) => {
      env(service(doc, RENDER_API), 'REDIS_URL')['fromService']['type'] = 'pserv';
    },
    code: 'unresolved-reference',
  },
  {
    name: 'a fromDatabase name that matches no database',
    mutate: (doc) => {
      env(service(doc, RENDER_API), 'DATABASE_URL')['fromDatabase']['name'] = 'valhalla-staging';
    },
    code: 'unresolved-reference',
    mentions: 'valhalla-staging',
  },
  {
    name: 'a boolean env value',
    mutate: (doc) => {
      (service(doc, RENDER_API)['envVars'] as Doc[]).push({ key: 'FEATURE_FLAG', value: true });
    },
    code: 'boolean-env',
  },
  {
    name: 'a start command through npm run',
    mutate: (doc) => {
      service(doc, RENDER_WORKER)['startCommand'] = 'npm run start:worker';
    },
    code: 'npm-run-command',
  },
  {
    name: 'a pre-deploy command through npm run',
    mutate: (doc) => {
      service(doc, RENDER_API)['preDeployCommand'] = 'npm run migrate -- up';
    },
    code: 'npm-run-command',
  },
  {
    name: 'a worker that starts without running the migrations first',
    mutate: (doc) => {
      delete service(doc, RENDER_WORKER)['preDeployCommand'];
    },
    code: 'migrations-not-before-start',
    mentions: RENDER_WORKER,
  },
  {
    name: 'a pre-deploy command that runs a file no script builds',
    mutate: (doc) => {
      service(doc, RENDER_API)['preDeployCommand'] = 'node apps/cli/dist/migrator.js up';
    },
    code: 'unknown-entrypoint',
  },
  {
    name: 'a build command naming a missing npm script',
    mutate: (doc) => {
      service(doc, RENDER_API)['buildCommand'] = 'npm ci --include=dev && npm run compile';
    },
    code: 'unknown-script',
  },
  {
    name: 'NODE_ENV=production with npm ci skipping the devDependencies the build needs',
    mutate: (doc) => {
      service(doc, RENDER_WORKER)['buildCommand'] = 'npm ci && npm run build';
    },
    code: 'build-skips-dev-dependencies',
  },
  {
    name: 'the free plan on the web service (no pre-deploy command)',
    mutate: (doc) => {
      service(doc, RENDER_API)['plan'] = 'free';
    },
    code: 'free-plan',
  },
  {
    name: 'a worker shutdown delay shorter than its drain deadline',
    mutate: (doc) => {
      service(doc, RENDER_WORKER)['maxShutdownDelaySeconds'] = 20;
    },
    code: 'shutdown-delay-too-short',
  },
  {
    name: 'governance tokens committed in the Blueprint',
    mutate: (doc) => {
      const tokens = env(service(doc, RENDER_API), 'GOVERNANCE_TOKENS');
      delete tokens['sync'];
      tokens['value'] = 'ops:0123456789abcdef0123456789abcdef';
    },
    code: 'secret-in-blueprint',
  },
  {
    name: 'the database in another region than the services',
    mutate: (doc) => {
      (doc['databases'] as Doc[])[0]!['region'] = 'frankfurt';
    },
    code: 'region-mismatch',
  },
  {
    name: 'API_URL as a literal public URL (a global subdomain that may be another customer\'s)',
    mutate: (doc) => {
      const apiUrl = env(service(doc, RENDER_WORKER), 'API_URL');
      delete apiUrl['fromService'];
      apiUrl['value'] = 'https://valhalla-api.onrender.com';
    },
    code: 'api-url-wiring',
  },
  {
    name: 'API_URL from the api\'s host without its port',
    mutate: (doc) => {
      env(service(doc, RENDER_WORKER), 'API_URL')['fromService']['property'] = 'host';
    },
    code: 'api-url-wiring',
  },
  {
    name: 'a worker concurrency that differs from the code default',
    mutate: (doc) => {
      (service(doc, RENDER_WORKER)['envVars'] as Doc[]).push({ key: 'WORKER_CONCURRENCY', value: '5' });
    },
    code: 'worker-concurrency-override',
  },
  {
    name: 'a worker with an APPROVALS_REQUIRED of its own',
    mutate: (doc) => {
      const worker = env(service(doc, RENDER_WORKER), 'APPROVALS_REQUIRED');
      delete worker['fromService'];
      worker['value'] = '2';
    },
    code: 'approvals-wiring',
  },
  {
    name: 'a worker without APPROVALS_REQUIRED (the default while the api asks for approvals)',
    mutate: (doc) => {
      const worker = service(doc, RENDER_WORKER);
      worker['envVars'] = (worker['envVars'] as Doc[]).filter((e) => e['key'] !== 'APPROVALS_REQUIRED');
    },
    code: 'approvals-wiring',
  },
  {
    name: 'a web service without the /health health check',
    mutate: (doc) => {
      delete service(doc, RENDER_API)['healthCheckPath'];
    },
    code: 'missing-health-check',
  },
];

describe('a broken render.yaml is rejected', () => {
  for (const { name, mutate, code, mentions } of blueprintVariants) {
    it(`reports ${code} for ${name}`, () => {
      const broken = clone(blueprint);
      mutate(broken);
      expectProblem(checkRenderBlueprint(broken, facts), code, mentions);
    });
  }
});
