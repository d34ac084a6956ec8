import { describe, expect, it } from 'vitest';
import {
  type Problem,
  checkCompose,
  checkComposeGraph,
  checkDockerfile,
  clone,
  composePostgresMajor,
  composeSchemaProblems,
  entrypointOf,
  nodeScript,
  finalStageCopies,
  loadRepoFacts,
  loadRepoYaml,
  parseYaml,
  readRepoFile,
  renderPostgresMajor,
  simpleCommands,
} from './blueprint-checks.js';

// Parsed documents are plain JSON-like data; the broken variants below edit them in place.
type Doc = Record<string, any>;

const facts = loadRepoFacts();
const compose = loadRepoYaml('docker-compose.yml') as Doc;
const dockerfile = readRepoFile('Dockerfile');
/** The image's default command, exactly as the Dockerfile writes it. */
const API_CMD = '["node", "--max-semi-space-size=2", "--max-old-space-size=160", "apps/api/dist/main.js"]';
const dockerignore = readRepoFile('.dockerignore');

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`variant cannot be built: ${JSON.stringify(from)} not found`);
  return text.replace(from, to);
}

function expectProblem(problems: Problem[], code: string, mentions?: string): void {
  expect(problems).toContainEqual(expect.objectContaining({ code }));
  if (mentions !== undefined) {
    expect(problems.filter((p) => p.code === code).map((p) => `${p.where} ${p.message}`).join('\n')).toContain(mentions);
  }
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema (as shipped by dclint)', () => {
    expect(composeSchemaProblems(compose)).toEqual([]);
  });

  it('has a sound service graph: migrations complete before api and worker start, behind healthy postgres and redis', () => {
    expect(checkComposeGraph(compose, facts)).toEqual([]);
  });

  it('accepts API_URL as host:port (the form Render\'s fromService hostport gives, which the config accepts)', () => {
    const hostPort = clone(compose);
    hostPort['services']['worker']['environment']['API_URL'] = 'api:3000';
    expect(checkComposeGraph(hostPort, facts)).toEqual([]);
  });

  it('gives migrate, api and worker the shared build settings through YAML merge keys', () => {
    for (const name of ['migrate', 'api', 'worker']) {
      expect(compose['services'][name]).toMatchObject({ build: { context: '.', dockerfile: 'Dockerfile' }, init: true });
      expect(compose['services'][name]['environment']).toMatchObject({ NODE_ENV: 'production' });
    }
    expect(compose['services']['migrate']['restart']).toBe('no');
  });

  it('runs the PostgreSQL major that render.yaml provisions', () => {
    const render = loadRepoYaml('render.yaml');
    expect(composePostgresMajor(compose)).toBeDefined();
    expect(String(composePostgresMajor(compose))).toBe(renderPostgresMajor(render));
  });

  it('starts only built files that the final image contains', () => {
    const copied = finalStageCopies(dockerfile);
    const started = ['migrate', 'api', 'worker'].map((name) => nodeScript(simpleCommands(compose['services'][name]['command'])[0] ?? [])?.file);
    expect(started).toEqual([entrypointOf(facts, 'migrate'), entrypointOf(facts, 'api'), entrypointOf(facts, 'worker')]);
    for (const file of started) {
      expect(copied.some((dir) => file === dir || file?.startsWith(`${dir}/`)), `${file} is not copied into the image`).toBe(true);
    }
  });
});

interface ComposeVariant {
  name: string;
  mutate: (doc: Doc) => void;
  code: string;
  mentions?: string;
}

const composeVariants: ComposeVariant[] = [
  {
    name: 'a worker concurrency that differs from the code default',
    mutate: (doc) => {
      doc['services']['worker']['environment']['WORKER_CONCURRENCY'] = '5';
    },
    code: 'worker-concurrency-override',
  },
  {
    name: 'a misspelled depends_on key (depend_on)',
    mutate: (doc) => {
      doc['services']['api']['depend_on'] = doc['services']['api']['depends_on'];
      delete doc['services']['api']['depends_on'];
    },
    code: 'schema',
    mentions: 'depend_on',
  },
  {
    name: 'api waiting for migrate without service_completed_successfully',
    mutate: (doc) => {
      doc['services']['api']['depends_on']['migrate'] = { condition: 'service_started' };
    },
    code: 'migrate-not-completed-first',
    mentions: 'services.api',
  },
  {
    name: 'worker not waiting for migrate at all',
    mutate: (doc) => {
      delete doc['services']['worker']['depends_on']['migrate'];
    },
    code: 'migrate-not-completed-first',
    mentions: 'services.worker',
  },
  {
    name: 'depends_on in list form (no conditions)',
    mutate: (doc) => {
      doc['services']['api']['depends_on'] = ['postgres', 'redis', 'migrate'];
    },
    code: 'depends-on-without-condition',
  },
  {
    name: 'a dependency on a service that does not exist',
    mutate: (doc) => {
      doc['services']['worker']['depends_on']['rabbitmq'] = { condition: 'service_healthy' };
    },
    code: 'unknown-dependency',
    mentions: 'rabbitmq',
  },
  {
    name: 'waiting for a healthy redis that has no healthcheck',
    mutate: (doc) => {
      delete doc['services']['redis']['healthcheck'];
    },
    code: 'healthy-without-healthcheck',
    mentions: 'redis',
  },
  {
    name: 'a depends_on cycle',
    mutate: (doc) => {
      doc['services']['migrate']['depends_on']['worker'] = { condition: 'service_started' };
    },
    code: 'dependency-cycle',
  },
  {
    name: 'DATABASE_URL pointing at a host that is not a service',
    mutate: (doc) => {
      doc['services']['migrate']['environment']['DATABASE_URL'] = 'postgres://valhalla:valhalla@db:5432/valhalla';
    },
    code: 'unresolved-host',
    mentions: 'db',
  },
  {
    name: 'API_URL as host:port pointing at a host that is not a service',
    mutate: (doc) => {
      doc['services']['worker']['environment']['API_URL'] = 'web:3000';
    },
    code: 'unresolved-host',
    mentions: 'web',
  },
  {
    name: 'redis with the allkeys-lru eviction policy',
    mutate: (doc) => {
      doc['services']['redis']['command'] = ['redis-server', '--appendonly', 'yes', '--maxmemory-policy', 'allkeys-lru'];
    },
    code: 'redis-eviction',
  },
  {
    name: 'redis without the append-only file',
    mutate: (doc) => {
      doc['services']['redis']['command'] = ['redis-server', '--maxmemory-policy', 'noeviction'];
    },
    code: 'redis-no-aof',
  },
  {
    name: 'the worker started through npm run',
    mutate: (doc) => {
      doc['services']['worker']['command'] = ['npm', 'run', 'start:worker'];
    },
    code: 'npm-run-command',
  },
  {
    name: 'a command running a file no package.json script builds',
    mutate: (doc) => {
      doc['services']['migrate']['command'] = ['node', 'apps/cli/dist/migrator.js', 'up'];
    },
    code: 'unknown-entrypoint',
  },
  {
    name: 'migrate restarting forever after it completes',
    mutate: (doc) => {
      doc['services']['migrate']['restart'] = 'always';
    },
    code: 'one-shot-restarts',
  },
  {
    name: 'the worker with the default 10 s stop grace period',
    mutate: (doc) => {
      delete doc['services']['worker']['stop_grace_period'];
    },
    code: 'grace-period-too-short',
  },
  {
    name: 'the api pulled from a registry instead of built from the repo',
    mutate: (doc) => {
      delete doc['services']['api']['build'];
    },
    code: 'not-built-from-repo',
  },
  {
    name: 'a PostgreSQL 18 volume mounted at the pre-18 /var/lib/postgresql/data',
    mutate: (doc) => {
      doc['services']['postgres']['volumes'] = ['postgres-data:/var/lib/postgresql/data'];
    },
    code: 'postgres-volume-path',
  },
  {
    name: 'an unquoted boolean environment value',
    mutate: (doc) => {
      doc['services']['worker']['environment']['FEATURE_FLAG'] = true;
    },
    code: 'boolean-env',
  },
];

describe('a broken docker-compose.yml is rejected', () => {
  for (const { name, mutate, code, mentions } of composeVariants) {
    it(`reports ${code} for ${name}`, () => {
      const broken = clone(compose);
      mutate(broken);
      expectProblem(checkCompose(broken, facts), code, mentions);
    });
  }
});

describe('Dockerfile and .dockerignore', () => {
  it('build on node:24-bookworm-slim, ship production dependencies and built output only, and run as the node user', () => {
    expect(checkDockerfile(dockerfile, dockerignore, facts)).toEqual([]);
  });

  const dockerVariants: { name: string; dockerfile?: string; dockerignore?: string; code: string }[] = [
    { name: 'the final stage running as root', dockerfile: replaceOnce(dockerfile, 'USER node\n', ''), code: 'runs-as-root' },
    {
      name: 'CMD through npm run',
      dockerfile: replaceOnce(dockerfile, `CMD ${API_CMD}`, 'CMD ["npm", "run", "start:api"]'),
      code: 'npm-run-command',
    },
    {
      name: 'a shell-form CMD (node would not be PID 1 and not get SIGTERM)',
      dockerfile: replaceOnce(dockerfile, `CMD ${API_CMD}`, 'CMD node apps/api/dist/main.js'),
      code: 'cmd',
    },
    {
      name: 'devDependencies installed in the final stage',
      dockerfile: replaceOnce(dockerfile, 'npm ci --omit=dev --no-audit', 'npm ci --no-audit'),
      code: 'final-dev-dependencies',
    },
    {
      name: 'node_modules copied from the build stage',
      dockerfile: replaceOnce(dockerfile, 'COPY migrations migrations', 'COPY migrations migrations\nCOPY --from=build /app/node_modules node_modules'),
      code: 'final-dev-dependencies',
    },
    {
      name: 'the migration CLI workspace left out of the final image',
      dockerfile: replaceOnce(dockerfile, 'COPY --from=build /app/apps/cli/dist apps/cli/dist\n', ''),
      code: 'missing-copy',
    },
    {
      name: 'npm ci without the manifest of one workspace',
      dockerfile: replaceOnce(dockerfile, 'COPY apps/console/package.json apps/console/\nRUN npm ci --omit=dev', 'RUN npm ci --omit=dev'),
      code: 'missing-workspace-manifest',
    },
    {
      name: 'migrations left out of the final image',
      dockerfile: replaceOnce(dockerfile, 'COPY migrations migrations\n', ''),
      code: 'missing-copy',
    },
    {
      name: 'a single-stage build',
      dockerfile: `FROM node:24-bookworm-slim\nWORKDIR /app\nCOPY . .\nRUN npm ci && npm run build\nUSER node\nCMD ["node", "apps/api/dist/main.js"]\n`,
      code: 'not-multi-stage',
    },
    {
      name: 'another base image for the build stage',
      dockerfile: replaceOnce(dockerfile, 'ARG NODE_IMAGE=node:24-bookworm-slim', 'ARG NODE_IMAGE=node:20-alpine'),
      code: 'base-image',
    },
    { name: '.dockerignore excluding migrations', dockerignore: `${dockerignore}migrations\n`, code: 'dockerignored-source' },
    {
      name: '.dockerignore sending node_modules into the build context',
      dockerignore: replaceOnce(dockerignore, '**/node_modules\n', ''),
      code: 'dockerignore-node-modules',
    },
  ];

  for (const variant of dockerVariants) {
    it(`reports ${variant.code} for ${variant.name}`, () => {
      expectProblem(checkDockerfile(variant.dockerfile ?? dockerfile, variant.dockerignore ?? dockerignore, facts), variant.code);
    });
  }
});

describe('YAML loading for the deployment checks', () => {
  it('applies << merge keys, with keys written in the mapping taking precedence', () => {
    expect(parseYaml('base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\n')).toEqual({ base: { a: 1, b: 2 }, x: { a: 1, b: 3 } });
  });

  it('refuses a document with duplicate keys instead of silently keeping one of them', () => {
    expect(() => parseYaml('services:\n  api: {}\n  api: {}\n', 'dup.yml')).toThrow(/dup\.yml/);
  });
});
