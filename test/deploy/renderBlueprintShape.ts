/**
 * The shape of a Render Blueprint, stated as this repository's own assertions.
 *
 * Render publishes a JSON Schema for render.yaml (https://render.com/schema/render.yaml.json) but no licence for it,
 * so no copy is kept here. These checks cover what matters for this Blueprint, written from Render's Blueprint
 * specification (https://render.com/docs/blueprint-spec): known keys per resource (a misspelled key such as
 * `healthcheckPath` is silently ignored by Render), required fields, the enumerations Render accepts, and the form
 * of each environment variable. Anything Render accepts that this project does not use is simply not listed: a key
 * outside these lists is reported, and the fix is to add it here after checking the spec.
 */
import type { Problem } from './blueprint-checks.js';

type Obj = Record<string, unknown>;

const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

const ROOT_KEYS = ['services', 'databases', 'envVarGroups', 'previews', 'projects', 'ungrouped'];
const SERVICE_TYPES = ['web', 'worker', 'pserv', 'cron', 'keyvalue', 'redis'];
const RUNTIMES = ['node', 'python', 'ruby', 'go', 'rust', 'elixir', 'docker', 'image', 'static'];
const REGIONS = ['oregon', 'ohio', 'virginia', 'frankfurt', 'singapore'];
const SERVICE_PLANS = ['free', 'starter', 'standard', 'pro', 'pro plus', 'pro max', 'pro ultra'];
const KEY_VALUE_PLANS = ['free', 'starter', 'standard', 'pro', 'pro plus'];
const DATABASE_PLAN = /^(free|basic-(256mb|1gb|4gb)|(pro|accelerated)-\d+gb|starter|standard|pro|pro plus)$/;
const POSTGRES_MAJORS = ['11', '12', '13', '14', '15', '16', '17', '18'];
const EVICTION_POLICIES = [
  'allkeys-lfu',
  'allkeys-lru',
  'allkeys-random',
  'noeviction',
  'volatile-lfu',
  'volatile-lru',
  'volatile-random',
  'volatile-ttl',
];
const DATABASE_PROPERTIES = ['connectionString', 'host', 'port', 'user', 'password', 'database'];
const SERVICE_PROPERTIES = ['host', 'port', 'hostport', 'connectionString'];

/** Keys every running service (web, worker, pserv, cron) may have. */
const RUNNING_SERVICE_KEYS = [
  'type', 'name', 'runtime', 'plan', 'region', 'repo', 'branch', 'rootDir', 'buildCommand', 'startCommand',
  'preDeployCommand', 'envVars', 'autoDeploy', 'autoDeployTrigger', 'buildFilter', 'numInstances', 'scaling', 'disk',
  'dockerCommand', 'dockerfilePath', 'dockerContext', 'registryCredential', 'image', 'maxShutdownDelaySeconds',
  'previews', 'pullRequestPreviewsEnabled',
];
const KEYS_BY_TYPE: Record<string, readonly string[]> = {
  web: [...RUNNING_SERVICE_KEYS, 'healthCheckPath', 'domains', 'ipAllowList', 'renderSubdomainPolicy', 'staticPublishPath', 'headers', 'routes', 'initialDeployHook'],
  worker: RUNNING_SERVICE_KEYS,
  pserv: RUNNING_SERVICE_KEYS,
  cron: [...RUNNING_SERVICE_KEYS, 'schedule'],
  keyvalue: ['type', 'name', 'plan', 'region', 'ipAllowList', 'maxmemoryPolicy', 'previewPlan'],
  redis: ['type', 'name', 'plan', 'region', 'ipAllowList', 'maxmemoryPolicy', 'previewPlan'],
};
const DATABASE_KEYS = [
  'name', 'plan', 'region', 'postgresMajorVersion', 'databaseName', 'user', 'ipAllowList', 'readReplicas',
  'highAvailability', 'diskSizeGB', 'previewPlan', 'previewDiskSizeGB', 'storageAutoscalingEnabled',
];
const ENV_VAR_SOURCES = ['value', 'fromDatabase', 'fromService', 'fromGroup', 'sync', 'generateValue'];

export function renderShapeProblems(blueprint: unknown): Problem[] {
  const problems: Problem[] = [];
  const add = (where: string, message: string): void => {
    problems.push({ code: 'structure', where, message });
  };
  const unknownKeys = (value: Obj, allowed: readonly string[], where: string): void => {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) add(where, `unknown key "${key}"`);
    }
  };
  const oneOf = (value: unknown, allowed: readonly string[], where: string, field: string): void => {
    if (value !== undefined && !allowed.includes(value as string)) {
      add(where, `${field} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
    }
  };
  const nonEmptyString = (value: unknown, where: string, field: string): void => {
    if (typeof value !== 'string' || value.trim() === '') add(where, `${field} is required (a non-empty string)`);
  };

  if (!isObj(blueprint)) {
    add('/', 'the Blueprint must be a mapping');
    return problems;
  }
  unknownKeys(blueprint, ROOT_KEYS, '/');
  for (const list of ['services', 'databases', 'envVarGroups'] as const) {
    if (blueprint[list] !== undefined && !Array.isArray(blueprint[list])) add(`/${list}`, `${list} must be a list`);
  }

  const services: unknown[] = Array.isArray(blueprint['services']) ? blueprint['services'] : [];
  for (const [index, service] of services.entries()) {
    const where = `/services/${index}`;
    if (!isObj(service)) {
      add(where, 'a service must be a mapping');
      continue;
    }
    nonEmptyString(service['name'], where, 'name');
    const type = service['type'];
    oneOf(type, SERVICE_TYPES, where, 'type');
    if (type === undefined) add(where, 'type is required');
    const allowed = KEYS_BY_TYPE[type as string];
    if (allowed !== undefined) unknownKeys(service, allowed, where);
    oneOf(service['region'], REGIONS, where, 'region');
    const keyValue = type === 'keyvalue' || type === 'redis';
    oneOf(service['plan'], keyValue ? KEY_VALUE_PLANS : SERVICE_PLANS, where, 'plan');
    if (keyValue) {
      oneOf(service['maxmemoryPolicy'], EVICTION_POLICIES, where, 'maxmemoryPolicy');
    } else if (allowed !== undefined) {
      // `runtime` replaced the retired `env` key; Render requires it on every running service.
      if (service['runtime'] === undefined) add(where, 'runtime is required');
      oneOf(service['runtime'], RUNTIMES, where, 'runtime');
    }
    for (const field of ['buildCommand', 'startCommand', 'preDeployCommand', 'healthCheckPath'] as const) {
      if (service[field] !== undefined && typeof service[field] !== 'string') add(where, `${field} must be a string`);
    }
    const delay = service['maxShutdownDelaySeconds'];
    if (delay !== undefined && (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 1 || delay > 300)) {
      add(where, 'maxShutdownDelaySeconds must be an integer from 1 to 300');
    }
    if (service['autoDeployTrigger'] !== undefined) {
      oneOf(service['autoDeployTrigger'], ['commit', 'checksPass', 'off'], where, 'autoDeployTrigger');
    }
    ipAllowListProblems(service['ipAllowList'], `${where}/ipAllowList`, add);
    envVarProblems(service['envVars'], `${where}/envVars`, add, oneOf);
  }

  const databases: unknown[] = Array.isArray(blueprint['databases']) ? blueprint['databases'] : [];
  for (const [index, database] of databases.entries()) {
    const where = `/databases/${index}`;
    if (!isObj(database)) {
      add(where, 'a database must be a mapping');
      continue;
    }
    unknownKeys(database, DATABASE_KEYS, where);
    nonEmptyString(database['name'], where, 'name');
    oneOf(database['region'], REGIONS, where, 'region');
    const plan = database['plan'];
    if (plan !== undefined && (typeof plan !== 'string' || !DATABASE_PLAN.test(plan))) {
      add(where, `plan ${JSON.stringify(plan)} is not a Render PostgreSQL plan`);
    }
    // Render reads the version as a string; an unquoted 18 in YAML is a number.
    oneOf(database['postgresMajorVersion'], POSTGRES_MAJORS, where, 'postgresMajorVersion (a quoted string)');
    ipAllowListProblems(database['ipAllowList'], `${where}/ipAllowList`, add);
  }
  return problems;
}

function ipAllowListProblems(value: unknown, where: string, add: (where: string, message: string) => void): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) {
    add(where, 'ipAllowList must be a list');
    return;
  }
  for (const [index, entry] of value.entries()) {
    if (!isObj(entry) || typeof entry['source'] !== 'string') add(`${where}/${index}`, 'an ipAllowList entry needs a source (CIDR)');
  }
}

function envVarProblems(
  value: unknown,
  where: string,
  add: (where: string, message: string) => void,
  oneOf: (value: unknown, allowed: readonly string[], where: string, field: string) => void,
): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) {
    add(where, 'envVars must be a list');
    return;
  }
  for (const [index, entry] of value.entries()) {
    const at = `${where}/${index}`;
    if (!isObj(entry)) {
      add(at, 'an env var must be a mapping');
      continue;
    }
    for (const key of Object.keys(entry)) {
      if (key !== 'key' && key !== 'previewValue' && !ENV_VAR_SOURCES.includes(key)) add(at, `unknown key "${key}"`);
    }
    const sources = ENV_VAR_SOURCES.filter((source) => entry[source] !== undefined);
    if (entry['fromGroup'] !== undefined) {
      if (sources.length > 1 || entry['key'] !== undefined) add(at, 'fromGroup stands alone (no key, no other source)');
      continue;
    }
    if (typeof entry['key'] !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(entry['key'])) {
      add(at, 'key is required (a variable name)');
    }
    if (sources.length !== 1) {
      add(at, `exactly one of value, fromDatabase, fromService, sync: false, generateValue (got ${sources.join(', ') || 'none'})`);
    }
    if (entry['sync'] !== undefined && entry['sync'] !== false) add(at, 'sync may only be false');
    if (entry['generateValue'] !== undefined && entry['generateValue'] !== true) add(at, 'generateValue may only be true');
    const fromDatabase = entry['fromDatabase'];
    if (fromDatabase !== undefined) {
      if (!isObj(fromDatabase) || typeof fromDatabase['name'] !== 'string') add(at, 'fromDatabase needs a name');
      else oneOf(fromDatabase['property'], DATABASE_PROPERTIES, at, 'fromDatabase.property');
      if (isObj(fromDatabase) && fromDatabase['property'] === undefined) add(at, 'fromDatabase needs a property');
    }
    const fromService = entry['fromService'];
    if (fromService !== undefined) {
      if (!isObj(fromService) || typeof fromService['name'] !== 'string' || typeof fromService['type'] !== 'string') {
        add(at, 'fromService needs a type and a name');
      } else {
        oneOf(fromService['type'], SERVICE_TYPES, at, 'fromService.type');
        const hasProperty = fromService['property'] !== undefined;
        if (hasProperty === (fromService['envVarKey'] !== undefined)) add(at, 'fromService needs exactly one of property, envVarKey');
        if (hasProperty) oneOf(fromService['property'], SERVICE_PROPERTIES, at, 'fromService.property');
      }
    }
  }
}
