/**
 * Checks for the deployment files: docker-compose.yml, render.yaml, Dockerfile and .dockerignore.
 *
 * Every check returns a list of problems (empty = fine) instead of throwing, so the tests can assert both that the
 * real files are clean and that each broken variant is reported with the expected problem code.
 *
 * docker-compose.yml is validated against the Compose Specification JSON Schema that the `dclint` package ships
 * (MIT, kept current with compose-spec). render.yaml is checked by this repository's own structural assertions
 * (renderBlueprintShape.ts): Render's schema carries no licence, so no copy of it is kept here. Everything a schema
 * cannot express (references between services, ordering, commands, policies) is checked in code here too.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { renderShapeProblems } from './renderBlueprintShape.js';

// ---------------------------------------------------------------------------------------------------------------
// Problems, paths, loading
// ---------------------------------------------------------------------------------------------------------------

export interface Problem {
  /** Stable identifier of the kind of problem, e.g. `worker-health-check`. Tests assert on this. */
  code: string;
  /** Where in the file, e.g. `services.worker` or `/services/1`. */
  where: string;
  message: string;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** The Compose Specification schema (draft-07) shipped inside the `dclint` devDependency. */
const composeSchemaPath = path.join(
  path.dirname(createRequire(import.meta.url).resolve('dclint/package.json')),
  'schemas',
  'compose.schema.json',
);

function repoPath(relative: string): string {
  return path.join(repoRoot, relative);
}

export function readRepoFile(relative: string): string {
  return readFileSync(repoPath(relative), 'utf8');
}

/**
 * Parses YAML with `<<` merge keys enabled (Compose files use them through `x-` anchors). Throws on any YAML
 * error (including duplicate keys) so that a partly parsed document is never validated.
 */
export function parseYaml(text: string, name = 'document'): unknown {
  const doc = parseDocument(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  const errors = [...doc.errors, ...doc.warnings];
  if (errors.length > 0) {
    throw new Error(`${name}: invalid YAML\n${errors.map((e) => e.message).join('\n')}`);
  }
  return doc.toJS({ maxAliasCount: 100 }) as unknown;
}

export function loadRepoYaml(relative: string): unknown {
  return parseYaml(readRepoFile(relative), relative);
}

/** A deep copy, for building broken variants of a parsed document. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Facts about the repository that commands and entrypoints are checked against. */
export interface RepoFacts {
  /** Root package.json `scripts`. */
  scripts: Record<string, string>;
  /** Whether a path relative to the repo root exists. */
  exists(relative: string): boolean;
  /** Node major from `.nvmrc`, if present. */
  nodeMajor: string | undefined;
  /** npm workspace folders (relative, e.g. `apps/api`), and those of them with a `build` script. */
  workspaces: string[];
  builtWorkspaces: string[];
}

/** The production entrypoints, named by root package.json scripts (the contract: `migrate`, `start:*`). */
const ENTRYPOINT_SCRIPTS = { migrate: 'migrate', api: 'start:api', worker: 'start:worker' } as const;
export type EntrypointRole = keyof typeof ENTRYPOINT_SCRIPTS;

function listWorkspaces(patterns: readonly string[]): string[] {
  const folders: string[] = [];
  for (const pattern of patterns) {
    const clean = pattern.replace(/\/+$/, '');
    if (clean.endsWith('/*')) {
      const parent = clean.slice(0, -2);
      if (!existsSync(repoPath(parent))) continue;
      for (const entry of readdirSync(repoPath(parent), { withFileTypes: true })) {
        if (entry.isDirectory()) folders.push(`${parent}/${entry.name}`);
      }
    } else {
      folders.push(clean);
    }
  }
  return folders.filter((folder) => existsSync(repoPath(`${folder}/package.json`))).sort();
}

export function loadRepoFacts(): RepoFacts {
  const pkg = JSON.parse(readRepoFile('package.json')) as { scripts?: Record<string, string>; workspaces?: string[] };
  const nvmrc = existsSync(repoPath('.nvmrc')) ? readRepoFile('.nvmrc').trim().replace(/^v/, '') : undefined;
  const workspaces = listWorkspaces(pkg.workspaces ?? []);
  const builtWorkspaces = workspaces.filter((folder) => {
    const manifest = JSON.parse(readRepoFile(`${folder}/package.json`)) as { scripts?: Record<string, string> };
    return manifest.scripts?.['build'] !== undefined;
  });
  return {
    scripts: pkg.scripts ?? {},
    exists: (relative) => existsSync(repoPath(relative)),
    nodeMajor: nvmrc?.split('.')[0],
    workspaces,
    builtWorkspaces,
  };
}

/**
 * The file a root script runs with `node <file>` (e.g. `start:api` -> `apps/api/dist/main.js`): the last node
 * command, since `migrate` first runs the Node guard and the on-demand build.
 */
export function entrypointOf(facts: RepoFacts, role: EntrypointRole): string | undefined {
  const script = facts.scripts[ENTRYPOINT_SCRIPTS[role]];
  const words = script === undefined ? undefined : simpleCommands(script).findLast((w) => w[0] === 'node');
  return words === undefined ? undefined : nodeScript(words)?.file;
}

function requireEntrypoint(facts: RepoFacts, role: EntrypointRole): string {
  const file = entrypointOf(facts, role);
  if (file === undefined) throw new Error(`package.json script "${ENTRYPOINT_SCRIPTS[role]}" does not run node <file>`);
  return file;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON Schema validation of docker-compose.yml
// ---------------------------------------------------------------------------------------------------------------

let composeValidator: ValidateFunction | undefined;

function describeSchemaError(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const detail =
    params['additionalProperty'] ?? params['unevaluatedProperty'] ?? params['allowedValues'] ?? params['missingProperty'];
  const suffix = detail === undefined ? '' : `: ${JSON.stringify(detail)}`;
  return `${error.message ?? error.keyword}${suffix}`;
}

export function composeSchemaProblems(document: unknown): Problem[] {
  if (composeValidator === undefined) {
    // The file names draft-07 as `https://json-schema.org/draft-07/schema`, an alias Ajv does not register; Ajv's
    // default dialect is draft-07, so the declaration is dropped rather than resolved.
    const { $schema: _dialect, ...schema } = JSON.parse(readFileSync(composeSchemaPath, 'utf8')) as Record<string, unknown>;
    composeValidator = new Ajv({ strict: false, allErrors: true, logger: false }).compile(schema);
  }
  if (composeValidator(document)) return [];
  const seen = new Set<string>();
  const problems: Problem[] = [];
  for (const error of composeValidator.errors ?? []) {
    const problem = { code: 'schema', where: error.instancePath || '/', message: describeSchemaError(error) };
    const key = `${problem.where} ${problem.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(problem);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObj(value: unknown): Obj {
  return isObj(value) ? value : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Splits a shell command line into words, honouring single and double quotes. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  const re = /"((?:\\.|[^"\\])*)"|'([^']*)'|(\S+)/g;
  for (const match of command.matchAll(re)) words.push(match[1] ?? match[2] ?? match[3] ?? '');
  return words;
}

/**
 * The simple commands of a command line: a string is split on `&&`, `||` and `;`; an exec-form array is one
 * command. A leading `exec` is dropped.
 */
export function simpleCommands(command: string | readonly string[]): string[][] {
  const words = typeof command === 'string' ? shellWords(command) : [...command];
  const commands: string[][] = [[]];
  for (const word of words) {
    if (word === '&&' || word === '||' || word === ';') commands.push([]);
    else commands[commands.length - 1]!.push(word);
  }
  return commands.filter((c) => c.length > 0).map((c) => (c[0] === 'exec' ? c.slice(1) : c));
}

/** True when a command line starts its process through npm (`npm run x`, `npm start`, `npm run-script x`). */
export function startsThroughNpm(command: string | readonly string[]): boolean {
  const first = simpleCommands(command)[0] ?? [];
  return first[0] === 'npm' && ['run', 'run-script', 'start', 'restart', 'test', 'exec'].includes(first[1] ?? '');
}

/** The built files that root package.json scripts run with `node <file>`, mapped to the script name. */
export function nodeEntrypointsOf(scripts: Record<string, string>): Map<string, string> {
  const entrypoints = new Map<string, string>();
  for (const [name, script] of Object.entries(scripts)) {
    for (const words of simpleCommands(script)) {
      const script_ = nodeScript(words);
      if (script_ !== undefined) entrypoints.set(script_.file, name);
    }
  }
  return entrypoints;
}

/** `node [--flag=value …] <file> [args]`: the file and its arguments; V8/Node flags (in `=` form) are skipped. */
export function nodeScript(words: readonly string[]): { file: string; args: readonly string[] } | undefined {
  if (words[0] !== 'node') return undefined;
  const index = words.findIndex((word, i) => i > 0 && !word.startsWith('-'));
  if (index < 0) return undefined;
  return { file: normalise(words[index] as string), args: words.slice(index + 1) };
}

function normalise(file: string): string {
  return path.posix.normalize(file).replace(/^\.\//, '');
}

/** Is this command line `node <the file of the migrate script> up [...]`? */
function runsMigrationsUp(command: string | readonly string[], facts: RepoFacts): boolean {
  const migrator = entrypointOf(facts, 'migrate');
  return simpleCommands(command).some((words) => {
    const script = nodeScript(words);
    return script !== undefined && migrator !== undefined && script.file === migrator && script.args[0] === 'up';
  });
}

/**
 * Checks that each simple command names something that exists: `npm run X` needs a root script X; `node F` needs
 * F to be a file a root script runs (the built entrypoints) or a file in the repo.
 */
export function commandProblems(command: string | readonly string[], where: string, facts: RepoFacts): Problem[] {
  const problems: Problem[] = [];
  const entrypoints = nodeEntrypointsOf(facts.scripts);
  for (const words of simpleCommands(command)) {
    const [program, verb, target] = words;
    if (program === 'npm' && (verb === 'run' || verb === 'run-script')) {
      if (!target || !(target in facts.scripts)) {
        problems.push({ code: 'unknown-script', where, message: `npm script "${target ?? ''}" is not in package.json` });
      }
    } else if (program === 'node') {
      const file = nodeScript(words)?.file;
      if (file && !entrypoints.has(file) && !facts.exists(file)) {
        problems.push({
          code: 'unknown-entrypoint',
          where,
          message: `node runs "${file}", which no package.json script runs and which does not exist`,
        });
      }
    }
  }
  return problems;
}

/** Parses a Compose duration (`1m30s`, `60s`, `500ms`) into seconds. */
function durationSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 1e-6 };
  let total = 0;
  let rest = value.trim();
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ms|us|h|m|s)/.exec(rest);
    if (!match) return undefined;
    total += Number(match[1]) * (units[match[2]!] ?? 0);
    rest = rest.slice(match[0].length);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------------
// docker-compose.yml
// ---------------------------------------------------------------------------------------------------------------

/** Drain deadline of the worker (SHUTDOWN_TIMEOUT_MS default 25 000 ms) plus margin. */
const WORKER_MIN_GRACE_SECONDS = 30;

const APP_SERVICES = ['api', 'worker'] as const;
const URL_VARIABLES = ['DATABASE_URL', 'REDIS_URL', 'API_URL'] as const;

/** The config accepts API_URL as `host:port` too (Render's fromService hostport), as it parses it. */
const HOST_PORT = /^([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):[0-9]{1,5}$/;

function urlHost(variable: string, value: string): string | undefined {
  const hostPort = variable === 'API_URL' ? HOST_PORT.exec(value) : null;
  if (hostPort) return hostPort[1];
  try {
    return new URL(value).hostname;
  } catch {
    return undefined;
  }
}

function composeEnvironment(service: Obj): Obj {
  const env = service['environment'];
  if (Array.isArray(env)) {
    const map: Obj = {};
    for (const entry of env) {
      if (typeof entry !== 'string') continue;
      const eq = entry.indexOf('=');
      map[eq < 0 ? entry : entry.slice(0, eq)] = eq < 0 ? null : entry.slice(eq + 1);
    }
    return map;
  }
  return asObj(env);
}

function composeCommand(value: unknown): string | string[] | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((w) => typeof w === 'string')) return value;
  return undefined;
}

interface Dependency {
  condition: string | undefined;
}

function composeDependencies(service: Obj): Map<string, Dependency> {
  const deps = new Map<string, Dependency>();
  const raw = service['depends_on'];
  if (Array.isArray(raw)) {
    for (const name of raw) if (typeof name === 'string') deps.set(name, { condition: undefined });
  } else if (isObj(raw)) {
    for (const [name, spec] of Object.entries(raw)) deps.set(name, { condition: str(asObj(spec)['condition']) });
  }
  return deps;
}

function hasHealthcheck(service: Obj): boolean {
  const healthcheck = service['healthcheck'];
  if (!isObj(healthcheck)) return false;
  if (healthcheck['disable'] === true || healthcheck['disable'] === 'true') return false;
  const test = healthcheck['test'];
  const first = Array.isArray(test) ? test[0] : test;
  return test !== undefined && first !== 'NONE';
}

function majorOfImage(image: string | undefined, repository: string): number | undefined {
  if (!image) return undefined;
  const match = new RegExp(`^(?:docker\\.io/)?(?:library/)?${repository}:(\\d+)`).exec(image);
  return match ? Number(match[1]) : undefined;
}

/** PostgreSQL major of the compose `postgres` service image (`postgres:18-bookworm` -> 18). */
export function composePostgresMajor(compose: unknown): number | undefined {
  const postgres = asObj(asObj(asObj(compose)['services'])['postgres']);
  return majorOfImage(str(postgres['image']), 'postgres');
}

function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

/** What the Compose schema cannot see: the service graph, commands and the policies the system depends on. */
export function checkComposeGraph(compose: unknown, facts: RepoFacts): Problem[] {
  const problems: Problem[] = [];
  const add = (code: string, where: string, message: string): void => {
    problems.push({ code, where, message });
  };
  const services = asObj(asObj(compose)['services']);
  const names = new Set(Object.keys(services));

  for (const required of ['postgres', 'redis', 'migrate', ...APP_SERVICES]) {
    if (!names.has(required)) add('missing-service', `services.${required}`, `service "${required}" is missing`);
  }

  // Dependency graph: targets exist, conditions are explicit and satisfiable, no cycles.
  const graph = new Map<string, string[]>();
  for (const [name, rawService] of Object.entries(services)) {
    const service = asObj(rawService);
    const where = `services.${name}.depends_on`;
    const deps = composeDependencies(service);
    graph.set(name, [...deps.keys()]);
    for (const [target, { condition }] of deps) {
      if (!names.has(target)) {
        add('unknown-dependency', where, `"${name}" depends on "${target}", which is not a service`);
        continue;
      }
      if (condition === undefined) {
        add('depends-on-without-condition', where, `"${name}" depends on "${target}" without a condition`);
      }
      const targetService = asObj(services[target]);
      if (condition === 'service_healthy' && !hasHealthcheck(targetService)) {
        add('healthy-without-healthcheck', where, `"${name}" waits for "${target}" to be healthy, but it has no healthcheck`);
      }
      if (condition === 'service_completed_successfully' && target !== 'migrate') {
        add('completed-on-long-running', where, `"${name}" waits for "${target}" to complete, but it is not a one-shot job`);
      }
    }
  }
  const cycle = findCycle(graph);
  if (cycle) add('dependency-cycle', 'services', `depends_on cycle: ${cycle.join(' -> ')}`);

  // Every service that reaches another through a URL waits until that one is healthy.
  for (const [name, rawService] of Object.entries(services)) {
    const service = asObj(rawService);
    const env = composeEnvironment(service);
    const deps = composeDependencies(service);
    for (const variable of URL_VARIABLES) {
      const value = str(env[variable]);
      if (value === undefined || value.includes('${')) continue;
      const host = urlHost(variable, value);
      if (host === undefined) {
        add('unresolved-host', `services.${name}.environment.${variable}`, `${variable} is not a URL: ${value}`);
        continue;
      }
      if (!names.has(host)) {
        add('unresolved-host', `services.${name}.environment.${variable}`, `${variable} points at "${host}", which is not a service`);
      } else if (deps.get(host)?.condition !== 'service_healthy') {
        add('dependency-not-healthy', `services.${name}.depends_on`, `"${name}" uses ${variable} (${host}) but does not wait for it with condition service_healthy`);
      }
    }
    for (const [key, value] of Object.entries(env)) {
      if (typeof value === 'boolean') {
        add('boolean-env', `services.${name}.environment.${key}`, `${key} is a boolean; quote it ("${String(value)}")`);
      }
    }
  }

  // Health checks on what others wait for, and on the api.
  for (const name of ['postgres', 'redis', 'api']) {
    if (names.has(name) && !hasHealthcheck(asObj(services[name]))) {
      add('missing-healthcheck', `services.${name}.healthcheck`, `"${name}" has no healthcheck`);
    }
  }

  // The one-shot migration job runs first and exits.
  const migrate = asObj(services['migrate']);
  if (names.has('migrate')) {
    const command = composeCommand(migrate['command']);
    if (!command || !runsMigrationsUp(command, facts)) {
      add('migrate-command', 'services.migrate.command', `migrate must run "node ${requireEntrypoint(facts, 'migrate')} up"`);
    }
    const restart = str(migrate['restart']);
    if (restart !== undefined && restart !== 'no' && !restart.startsWith('on-failure')) {
      add('one-shot-restarts', 'services.migrate.restart', `migrate is a one-shot job; restart "${restart}" would re-run it forever`);
    }
    if (composeDependencies(migrate).get('postgres')?.condition !== 'service_healthy') {
      add('dependency-not-healthy', 'services.migrate.depends_on', 'migrate must wait for postgres with condition service_healthy');
    }
  }
  for (const name of APP_SERVICES) {
    if (!names.has(name)) continue;
    if (composeDependencies(asObj(services[name])).get('migrate')?.condition !== 'service_completed_successfully') {
      add('migrate-not-completed-first', `services.${name}.depends_on`, `"${name}" must depend on migrate with condition service_completed_successfully`);
    }
  }

  // Built from the repo's Dockerfile; processes start with node, not through npm.
  for (const name of ['migrate', ...APP_SERVICES]) {
    if (!names.has(name)) continue;
    const service = asObj(services[name]);
    const build = service['build'];
    const context = typeof build === 'string' ? build : str(asObj(build)['context']);
    const dockerfile = isObj(build) ? (str(build['dockerfile']) ?? 'Dockerfile') : 'Dockerfile';
    if (context === undefined || path.posix.normalize(context) !== '.' || !facts.exists(dockerfile)) {
      add('not-built-from-repo', `services.${name}.build`, `"${name}" must be built from the repo root with its Dockerfile`);
    }
  }
  for (const [name, rawService] of Object.entries(services)) {
    const service = asObj(rawService);
    for (const key of ['command', 'entrypoint'] as const) {
      const command = composeCommand(service[key]);
      if (command === undefined) continue;
      if (startsThroughNpm(command)) {
        add('npm-run-command', `services.${name}.${key}`, `"${name}" starts through npm; run node on the built file so SIGTERM reaches it`);
      }
      if (['migrate', ...APP_SERVICES].includes(name)) problems.push(...commandProblems(command, `services.${name}.${key}`, facts));
    }
  }

  // One worker concurrency everywhere: the code's default (docs/configuration.md), not a copy that drifts.
  for (const [name, rawService] of Object.entries(services)) {
    if (composeEnvironment(asObj(rawService))['WORKER_CONCURRENCY'] !== undefined) {
      add('worker-concurrency-override', `services.${name}.environment.WORKER_CONCURRENCY`, 'WORKER_CONCURRENCY is left to the code default, the same in every environment');
    }
  }

  // Worker drain deadline.
  if (names.has('worker')) {
    const grace = durationSeconds(asObj(services['worker'])['stop_grace_period']) ?? 10;
    if (grace < WORKER_MIN_GRACE_SECONDS) {
      add('grace-period-too-short', 'services.worker.stop_grace_period', `worker gets ${grace}s to stop; it needs at least ${WORKER_MIN_GRACE_SECONDS}s to drain`);
    }
  }

  // Redis as a queue: never evict, persist.
  if (names.has('redis')) {
    const words = simpleCommands(composeCommand(asObj(services['redis'])['command']) ?? '').flat();
    const option = (flag: string): string | undefined => {
      const index = words.indexOf(flag);
      return index < 0 ? undefined : words[index + 1];
    };
    if (option('--maxmemory-policy') !== 'noeviction') {
      add('redis-eviction', 'services.redis.command', 'redis must run with --maxmemory-policy noeviction (BullMQ)');
    }
    if (option('--appendonly') !== 'yes') {
      add('redis-no-aof', 'services.redis.command', 'redis must run with --appendonly yes');
    }
  }

  // PostgreSQL 18+ images keep data in /var/lib/postgresql/<major>/docker and refuse a mount at .../data.
  if (names.has('postgres')) {
    const postgres = asObj(services['postgres']);
    const major = majorOfImage(str(postgres['image']), 'postgres');
    if (major === undefined) {
      add('postgres-version', 'services.postgres.image', 'postgres image must pin a major version (postgres:NN...)');
    }
    const targets = asArray(postgres['volumes']).map((v) =>
      typeof v === 'string' ? v.split(':')[1] : str(asObj(v)['target']),
    );
    if (major !== undefined && major >= 18 && !targets.includes('/var/lib/postgresql')) {
      add('postgres-volume-path', 'services.postgres.volumes', 'from PostgreSQL 18 the data volume must be mounted at /var/lib/postgresql');
    }
  }

  return problems;
}

export function checkCompose(compose: unknown, facts: RepoFacts): Problem[] {
  return [...composeSchemaProblems(compose), ...checkComposeGraph(compose, facts)];
}

// ---------------------------------------------------------------------------------------------------------------
// render.yaml (Blueprint)
// ---------------------------------------------------------------------------------------------------------------

export const RENDER_API = 'valhalla-api';
export const RENDER_WORKER = 'valhalla-worker';
const RENDER_DATABASE = 'valhalla-prod';
/** Render's Key Value type; `redis` is its deprecated alias. */
const KEY_VALUE_TYPES = new Set(['keyvalue', 'redis']);
const RUNNING_TYPES = new Set(['web', 'worker', 'pserv']);
const DEFAULT_REGION = 'oregon';

function envVars(service: Obj): Obj[] {
  return asArray(service['envVars']).map(asObj);
}

function envVar(service: Obj, key: string): Obj | undefined {
  return envVars(service).find((e) => e['key'] === key);
}

/** PostgreSQL major of the Blueprint database `valhalla-prod`. */
export function renderPostgresMajor(blueprint: unknown): string | undefined {
  const database = asArray(asObj(blueprint)['databases'])
    .map(asObj)
    .find((d) => d['name'] === RENDER_DATABASE);
  return database ? str(database['postgresMajorVersion']) : undefined;
}

/** What the Blueprint schema cannot see: references, ordering, commands, plans and policies. */
export function checkRenderSemantics(blueprint: unknown, facts: RepoFacts): Problem[] {
  const problems: Problem[] = [];
  const add = (code: string, where: string, message: string): void => {
    problems.push({ code, where, message });
  };
  const root = asObj(blueprint);
  const services = asArray(root['services']).map(asObj);
  const databases = asArray(root['databases']).map(asObj);
  const groups = asArray(root['envVarGroups']).map(asObj);
  const label = (s: Obj, i: number): string => `services[${i}] (${str(s['name']) ?? '?'})`;

  // Names: unique, and the resources the system needs are present.
  const allNames = [...services, ...databases].map((r) => str(r['name']));
  for (const name of new Set(allNames)) {
    if (name !== undefined && allNames.filter((n) => n === name).length > 1) {
      add('duplicate-name', name, `name "${name}" is used more than once`);
    }
  }
  const byName = (name: string): Obj | undefined => services.find((s) => s['name'] === name);
  if (byName(RENDER_API)?.['type'] !== 'web') add('missing-service', RENDER_API, `web service "${RENDER_API}" is missing`);
  if (byName(RENDER_WORKER)?.['type'] !== 'worker') add('missing-service', RENDER_WORKER, `background worker "${RENDER_WORKER}" is missing`);
  if (!services.some((s) => KEY_VALUE_TYPES.has(str(s['type']) ?? ''))) add('missing-service', 'services', 'no Key Value service');
  if (!databases.some((d) => d['name'] === RENDER_DATABASE)) add('missing-service', 'databases', `database "${RENDER_DATABASE}" is missing`);

  // Region: internal connection strings only work inside one region.
  const regions = new Set([...services, ...databases].map((r) => str(r['region']) ?? DEFAULT_REGION));
  if (regions.size > 1) add('region-mismatch', 'region', `services and databases span regions: ${[...regions].join(', ')}`);

  // Plans: pre-deploy commands and background workers need paid plans; free Key Value and Postgres are not durable.
  const planned = [
    ...services.map((s, i) => [label(s, i), s] as const),
    ...databases.map((d, i) => [`databases[${i}] (${str(d['name']) ?? '?'})`, d] as const),
  ];
  for (const [where, r] of planned) {
    const plan = str(r['plan']);
    if (plan === undefined || plan === 'free') {
      add('free-plan', where, `plan must be a paid plan (got ${plan ?? 'the default'})`);
    }
  }

  // Database version as a string (the schema checks the enum when present).
  for (const [i, database] of databases.entries()) {
    if (database['postgresMajorVersion'] === undefined) {
      add('postgres-version', `databases[${i}]`, 'postgresMajorVersion must be set (as a string)');
    }
  }

  for (const [i, service] of services.entries()) {
    const where = label(service, i);
    const type = str(service['type']) ?? '';

    // Environment: references resolve, values are strings, secrets are not committed.
    const keys = envVars(service).map((e) => str(e['key']));
    for (const key of new Set(keys)) {
      if (key !== undefined && keys.filter((k) => k === key).length > 1) add('duplicate-env', `${where}.envVars`, `${key} is defined twice`);
    }
    for (const env of envVars(service)) {
      const key = str(env['key']) ?? '?';
      const fromDatabase = env['fromDatabase'];
      if (fromDatabase !== undefined) {
        const name = str(asObj(fromDatabase)['name']);
        if (!databases.some((d) => d['name'] === name)) {
          add('unresolved-reference', `${where}.envVars.${key}`, `fromDatabase "${name ?? ''}" matches no database`);
        }
      }
      const fromService = env['fromService'];
      if (fromService !== undefined) {
        const ref = asObj(fromService);
        const refType = str(ref['type']) ?? '';
        const target = services.find(
          (s) => s['name'] === ref['name'] && (s['type'] === refType || (KEY_VALUE_TYPES.has(refType) && KEY_VALUE_TYPES.has(str(s['type']) ?? ''))),
        );
        if (!target) {
          add('unresolved-reference', `${where}.envVars.${key}`, `fromService ${refType} "${str(ref['name']) ?? ''}" matches no service`);
        } else if (ref['envVarKey'] !== undefined && !envVar(target, str(ref['envVarKey']) ?? '')) {
          add('unresolved-reference', `${where}.envVars.${key}`, `fromService envVarKey ${JSON.stringify(ref['envVarKey'])} is not set on ${JSON.stringify(ref['name'])}`);
        }
      }
      const fromGroup = env['fromGroup'];
      if (fromGroup !== undefined && !groups.some((g) => g['name'] === fromGroup)) {
        add('unresolved-reference', `${where}.envVars`, `fromGroup ${JSON.stringify(fromGroup)} matches no envVarGroup`);
      }
      for (const field of ['value', 'previewValue'] as const) {
        if (typeof env[field] === 'boolean') {
          add('boolean-env', `${where}.envVars.${key}`, `${key} ${field} is a boolean; env values are strings (quote "${String(env[field])}")`);
        }
      }
    }

    if (KEY_VALUE_TYPES.has(type)) {
      if (service['maxmemoryPolicy'] !== 'noeviction') {
        add('keyvalue-eviction', `${where}.maxmemoryPolicy`, `Key Value must use noeviction for BullMQ (got ${str(service['maxmemoryPolicy']) ?? 'the default allkeys-lru'})`);
      }
      if (asArray(service['ipAllowList']).length > 0) {
        add('keyvalue-public', `${where}.ipAllowList`, 'Key Value must be internal only (ipAllowList: [])');
      }
      continue;
    }
    if (!RUNNING_TYPES.has(type)) continue;

    // Health checks: web services have one; background workers cannot.
    if (type === 'worker' && service['healthCheckPath'] !== undefined) {
      add('worker-health-check', `${where}.healthCheckPath`, 'background workers take no healthCheckPath');
    }
    if (type === 'web' && service['healthCheckPath'] !== '/health') {
      add('missing-health-check', `${where}.healthCheckPath`, 'the web service must use healthCheckPath /health');
    }
    const shutdownDelay = service['maxShutdownDelaySeconds'];
    if (type === 'worker' && (typeof shutdownDelay !== 'number' || shutdownDelay < WORKER_MIN_GRACE_SECONDS)) {
      add('shutdown-delay-too-short', `${where}.maxShutdownDelaySeconds`, `the worker needs maxShutdownDelaySeconds of at least ${WORKER_MIN_GRACE_SECONDS} (set explicitly) to drain`);
    }

    // Commands: migrations before start, node on built files, names that exist.
    const start = str(service['startCommand']);
    const preDeploy = str(service['preDeployCommand']);
    const build = str(service['buildCommand']);
    if (start === undefined) add('missing-command', `${where}.startCommand`, 'startCommand is missing');
    if (preDeploy === undefined || !runsMigrationsUp(preDeploy, facts)) {
      add('migrations-not-before-start', `${where}.preDeployCommand`, `preDeployCommand must run "node ${requireEntrypoint(facts, 'migrate')} up" before the service starts`);
    }
    for (const [field, command] of [['startCommand', start], ['preDeployCommand', preDeploy]] as const) {
      if (command !== undefined && startsThroughNpm(command)) {
        add('npm-run-command', `${where}.${field}`, `${field} starts through npm; run node on the built file so SIGTERM reaches it`);
      }
    }
    const role = ({ [RENDER_API]: 'api', [RENDER_WORKER]: 'worker' } as const)[str(service['name']) ?? ''];
    const expectedStart = role === undefined ? undefined : requireEntrypoint(facts, role);
    if (start !== undefined && expectedStart !== undefined && nodeScript(simpleCommands(start)[0] ?? [])?.file !== expectedStart) {
      add('wrong-entrypoint', `${where}.startCommand`, `startCommand must run node ${expectedStart}`);
    }
    for (const [field, command] of [['buildCommand', build], ['startCommand', start], ['preDeployCommand', preDeploy]] as const) {
      if (command !== undefined) problems.push(...commandProblems(command, `${where}.${field}`, facts));
    }
    const buildSteps = simpleCommands(build ?? '');
    const npmCi = buildSteps.find((w) => w[0] === 'npm' && w[1] === 'ci');
    if (!npmCi || !buildSteps.some((w) => w[0] === 'npm' && w[1] === 'run' && w[2] === 'build')) {
      add('build-command', `${where}.buildCommand`, 'buildCommand must run "npm ci" and "npm run build"');
    }
    const nodeEnv = envVar(service, 'NODE_ENV');
    if (nodeEnv?.['value'] !== 'production') add('env-wiring', `${where}.envVars.NODE_ENV`, 'NODE_ENV must be "production"');
    if (npmCi && nodeEnv?.['value'] === 'production' && !npmCi.includes('--include=dev')) {
      add('build-skips-dev-dependencies', `${where}.buildCommand`, 'with NODE_ENV=production npm ci skips devDependencies (TypeScript, turbo); use npm ci --include=dev');
    }

    // Wiring of the connection strings.
    const database = asObj(envVar(service, 'DATABASE_URL')?.['fromDatabase']);
    if (database['name'] !== RENDER_DATABASE || database['property'] !== 'connectionString') {
      add('env-wiring', `${where}.envVars.DATABASE_URL`, `DATABASE_URL must come from fromDatabase ${RENDER_DATABASE} connectionString`);
    }
    const redis = asObj(envVar(service, 'REDIS_URL')?.['fromService']);
    if (!KEY_VALUE_TYPES.has(str(redis['type']) ?? '') || redis['property'] !== 'connectionString') {
      add('env-wiring', `${where}.envVars.REDIS_URL`, 'REDIS_URL must come from fromService (keyvalue) connectionString');
    }
    const nodeVersion = envVar(service, 'NODE_VERSION');
    if (facts.nodeMajor !== undefined && nodeVersion !== undefined && String(nodeVersion['value']) !== facts.nodeMajor) {
      add('node-version', `${where}.envVars.NODE_VERSION`, `NODE_VERSION ${String(nodeVersion['value'])} differs from .nvmrc (${facts.nodeMajor})`);
    }
    // The worker reaches the api over the private network: fromService hostport of the web service. A literal
    // *.onrender.com URL may name another customer's service (subdomains are global).
    const apiUrl = envVar(service, 'API_URL');
    if (apiUrl !== undefined) {
      const ref = asObj(apiUrl['fromService']);
      if (ref['type'] !== 'web' || ref['name'] !== RENDER_API || ref['property'] !== 'hostport') {
        add('api-url-wiring', `${where}.envVars.API_URL`, `API_URL must come from fromService web ${RENDER_API} hostport (the private network address)`);
      }
    }
    // Four-eyes: the worker applies changes by the api's APPROVALS_REQUIRED, taken from the api (it refuses to start
    // on another value, so a value of its own is a worker that never runs, or a rule the api does not ask for).
    if (type === 'worker') {
      const ref = asObj(envVar(service, 'APPROVALS_REQUIRED')?.['fromService']);
      if (ref['type'] !== 'web' || ref['name'] !== RENDER_API || ref['envVarKey'] !== 'APPROVALS_REQUIRED') {
        add('approvals-wiring', `${where}.envVars.APPROVALS_REQUIRED`, `APPROVALS_REQUIRED must come from fromService web ${RENDER_API} envVarKey APPROVALS_REQUIRED`);
      }
    }
    if (envVar(service, 'WORKER_CONCURRENCY') !== undefined) {
      add('worker-concurrency-override', `${where}.envVars.WORKER_CONCURRENCY`, 'WORKER_CONCURRENCY is left to the code default, the same in every environment');
    }
    if (type === 'web') {
      const tokens = envVar(service, 'GOVERNANCE_TOKENS');
      if (!tokens) add('env-wiring', `${where}.envVars.GOVERNANCE_TOKENS`, 'GOVERNANCE_TOKENS is missing');
      else if (tokens['sync'] !== false || tokens['value'] !== undefined || tokens['generateValue'] !== undefined) {
        add('secret-in-blueprint', `${where}.envVars.GOVERNANCE_TOKENS`, 'GOVERNANCE_TOKENS must be sync: false with no value in the Blueprint');
      }
    }
  }

  return problems;
}

export function checkRenderBlueprint(blueprint: unknown, facts: RepoFacts): Problem[] {
  return [...renderShapeProblems(blueprint), ...checkRenderSemantics(blueprint, facts)];
}

// ---------------------------------------------------------------------------------------------------------------
// Dockerfile and .dockerignore
// ---------------------------------------------------------------------------------------------------------------

const BUILD_BASE_IMAGE = 'node:24-bookworm-slim';

interface DockerInstruction {
  keyword: string;
  args: string;
}

interface DockerStage {
  image: string;
  name: string | undefined;
  instructions: DockerInstruction[];
}

/** Parses a Dockerfile into stages (line continuations, comments, ARG defaults before the first FROM). */
function parseDockerfile(text: string): DockerStage[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(current + line);
    current = '';
  }
  if (current !== '') logical.push(current);

  const globalArgs = new Map<string, string>();
  const stages: DockerStage[] = [];
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line);
    if (!match) continue;
    const keyword = match[1]!.toUpperCase();
    const args = match[2] ?? '';
    if (keyword === 'FROM') {
      const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const image = (words[0] ?? '').replace(/\$\{?(\w+)\}?/g, (_, name: string) => globalArgs.get(name) ?? '');
      const asIndex = words.findIndex((w) => w.toUpperCase() === 'AS');
      stages.push({ image, name: asIndex >= 0 ? words[asIndex + 1] : undefined, instructions: [] });
    } else if (stages.length === 0 && keyword === 'ARG') {
      const [name, value] = args.split('=', 2);
      if (name) globalArgs.set(name.trim(), (value ?? '').trim());
    } else {
      stages[stages.length - 1]?.instructions.push({ keyword, args });
    }
  }
  return stages;
}

interface CopyInstruction {
  from: string | undefined;
  sources: string[];
  destination: string;
}

function parseCopy(args: string): CopyInstruction {
  const words = args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : shellWords(args);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from, sources: paths.slice(0, -1), destination: paths[paths.length - 1] ?? '' };
}

function execForm(args: string): string[] | undefined {
  try {
    const parsed = JSON.parse(args) as unknown;
    return Array.isArray(parsed) && parsed.every((w) => typeof w === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Paths (relative to WORKDIR /app) that the final image receives through COPY. */
export function finalStageCopies(dockerfile: string): string[] {
  const final = parseDockerfile(dockerfile).at(-1);
  return (final?.instructions ?? [])
    .filter((i) => i.keyword === 'COPY')
    .map((i) => parseCopy(i.args))
    .flatMap((c) => (c.destination.endsWith('/') || c.destination === '.' ? c.sources.map((s) => path.posix.join(c.destination, path.posix.basename(s))) : [c.destination]))
    .map(normalise);
}

interface IgnoreRule {
  negate: boolean;
  pattern: RegExp;
}

function dockerignoreRules(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    line = path.posix.normalize(line.replace(/^\/+/, '')).replace(/\/+$/, '');
    let source = '';
    for (let i = 0; i < line.length; i++) {
      const char = line[i]!;
      if (char === '*' && line[i + 1] === '*') {
        const slash = line[i + 2] === '/';
        source += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else if (char === '*') source += '[^/]*';
      else if (char === '?') source += '[^/]';
      else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    rules.push({ negate, pattern: new RegExp(`^${source}$`) });
  }
  return rules;
}

/** Docker's rule: a path is excluded when the last pattern matching it or one of its parent folders excludes it. */
function isDockerignored(relative: string, dockerignore: string): boolean {
  const file = normalise(relative).replace(/\/+$/, '');
  const candidates = file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of dockerignoreRules(dockerignore)) {
    if (candidates.some((c) => rule.pattern.test(c))) ignored = !rule.negate;
  }
  return ignored;
}

export function checkDockerfile(dockerfile: string, dockerignore: string, facts: RepoFacts): Problem[] {
  const problems: Problem[] = [];
  const add = (code: string, where: string, message: string): void => {
    problems.push({ code, where, message });
  };
  const stages = parseDockerfile(dockerfile);
  const build = stages[0];
  const final = stages.at(-1);
  if (!build || !final || stages.length < 2) {
    add('not-multi-stage', 'FROM', 'the Dockerfile must have a build stage and a separate final stage');
  }
  if (build && build.image !== BUILD_BASE_IMAGE) add('base-image', 'FROM', `the build stage must start FROM ${BUILD_BASE_IMAGE} (got ${build.image})`);
  if (final && !final.image.startsWith('node:24')) add('base-image', 'FROM', `the final stage must run Node 24 (got ${final.image})`);

  const runs = (stage: DockerStage | undefined): string[][] =>
    (stage?.instructions ?? []).filter((i) => i.keyword === 'RUN').flatMap((i) => simpleCommands(i.args));
  const buildRuns = stages.length >= 2 ? stages.slice(0, -1).flatMap((s) => runs(s)) : [];
  if (!buildRuns.some((w) => w[0] === 'npm' && w[1] === 'ci')) add('build-stage', 'RUN', 'the build stage must run npm ci');
  if (!buildRuns.some((w) => w[0] === 'npm' && w[1] === 'run' && w[2] === 'build')) add('build-stage', 'RUN', 'the build stage must run npm run build');

  if (final && stages.length >= 2) {
    const installs = runs(final).filter((w) => w[0] === 'npm' && (w[1] === 'ci' || w[1] === 'install' || w[1] === 'i'));
    if (!installs.some((w) => w[1] === 'ci' && w.includes('--omit=dev'))) {
      add('final-dev-dependencies', 'RUN', 'the final stage must install production dependencies with npm ci --omit=dev');
    }
    if (installs.some((w) => !w.includes('--omit=dev'))) {
      add('final-dev-dependencies', 'RUN', 'the final stage installs dependencies without --omit=dev');
    }
    const copies = final.instructions.filter((i) => i.keyword === 'COPY').map((i) => parseCopy(i.args));
    if (copies.some((c) => c.from !== undefined && c.sources.some((s) => s.split('/').includes('node_modules')))) {
      add('final-dev-dependencies', 'COPY', 'the final stage copies node_modules from the build stage (which holds devDependencies)');
    }
    const copied = finalStageCopies(dockerfile);
    for (const needed of [...facts.builtWorkspaces.map((w) => `${w}/dist`), 'migrations']) {
      if (!copied.includes(needed)) add('missing-copy', 'COPY', `the final stage must copy ${needed}`);
    }
    const users = final.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args.trim().split(':')[0]);
    const user = users.at(-1);
    if (user === undefined || user === 'root' || user === '0') add('runs-as-root', 'USER', 'the final stage must switch to a non-root user (USER node)');
    const cmd = final.instructions.filter((i) => i.keyword === 'CMD').at(-1);
    const cmdWords = cmd ? execForm(cmd.args) : undefined;
    const api = requireEntrypoint(facts, 'api');
    if (!cmdWords || nodeScript(cmdWords)?.file !== api) {
      add('cmd', 'CMD', `CMD must be the exec form ["node", (flags,) "${api}"]`);
    }
    for (const instruction of final.instructions.filter((i) => i.keyword === 'CMD' || i.keyword === 'ENTRYPOINT')) {
      if (startsThroughNpm(execForm(instruction.args) ?? instruction.args)) {
        add('npm-run-command', instruction.keyword, `${instruction.keyword} starts through npm; run node on the built file`);
      }
    }
  }

  // npm ci needs the manifest of every workspace (the lockfile lists them all) in each stage that installs.
  for (const [index, stage] of stages.entries()) {
    const installAt = stage.instructions.findIndex(
      (i) => i.keyword === 'RUN' && simpleCommands(i.args).some((w) => w[0] === 'npm' && w[1] === 'ci'),
    );
    if (installAt < 0) continue;
    const copiedHere = stage.instructions
      .slice(0, installAt)
      .filter((i) => i.keyword === 'COPY')
      .map((i) => parseCopy(i.args))
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources.map(normalise));
    for (const workspace of facts.workspaces) {
      const manifest = `${workspace}/package.json`;
      if (!copiedHere.includes(manifest) && !copiedHere.includes(workspace) && !copiedHere.includes('.')) {
        add('missing-workspace-manifest', `stage ${stage.name ?? index}`, `npm ci runs without ${manifest}`);
      }
    }
  }

  // Sources copied from the build context must exist and not be excluded by .dockerignore.
  for (const stage of stages) {
    for (const instruction of stage.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
      const copy = parseCopy(instruction.args);
      if (copy.from !== undefined) continue;
      for (const source of copy.sources) {
        if (!facts.exists(source)) add('missing-source', 'COPY', `COPY source ${source} does not exist`);
        if (isDockerignored(source, dockerignore)) add('dockerignored-source', 'COPY', `COPY source ${source} is excluded by .dockerignore`);
      }
    }
  }
  if (!isDockerignored('node_modules', dockerignore) || !isDockerignored('packages/core/node_modules', dockerignore)) {
    add('dockerignore-node-modules', '.dockerignore', '.dockerignore must exclude node_modules at every level');
  }
  if (!isDockerignored('.git', dockerignore)) add('dockerignore-git', '.dockerignore', '.dockerignore must exclude .git');
  return problems;
}
