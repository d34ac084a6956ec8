import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, OFREP_ERROR_CODES } from '../../packages/contract/src/index.js';
import { useApi } from '../api/support.js';
import { REPO_ROOT } from '../helpers/processes.js';

/**
 * docs/http-api.md against the api as it is built: every route the server registers is documented as `METHOD /path`,
 * every `METHOD /path` the page names exists, and every code an HTTP client can meet is named. Routes are read from
 * the built server itself (Fastify's route tree), so a route added without its documentation fails here.
 */
const doc = readFileSync(join(REPO_ROOT, 'docs/http-api.md'), 'utf8');
const errorsDoc = readFileSync(join(REPO_ROOT, 'apps/api/ERRORS.md'), 'utf8');

/**
 * Mounted applications documented as a whole, by their entry route: the queue dashboard (bull-board's own routes,
 * every write of which is refused) and the OpenAPI browser (Swagger UI's files).
 */
const MOUNTS = ['/admin/queues/', '/docs/'] as const;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** `{key}` and `:key` are the same path parameter. */
const normalise = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

/**
 * Every method and path of Fastify's printRoutes tree ("├── api/jobs/:id (GET, HEAD)", children append to parents).
 * find-my-way prints a wildcard child as `*` alone, dropping the prefix of route-less nodes above it (`/console/*`
 * shows as `*` under `console`, `/docs/static/*` as `*` under `/docs/`); such a path is read as `<parent>/*`, which
 * the caller confirms with hasRoute or finds under a mount.
 */
const routesOf = (tree: string): string[] => {
  const pathAtDepth: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)(?:└── |├── )(.+?) \(([A-Z, ]+)\)$/.exec(line);
    if (match === null) continue;
    const depth = (match[1] as string).length / 4;
    const parent = pathAtDepth[depth - 1] ?? '';
    const segment = match[2] as string;
    const path = segment === '*' && !parent.endsWith('/') ? `${parent}/*` : parent + segment;
    pathAtDepth[depth] = path;
    pathAtDepth.length = depth + 1;
    for (const method of (match[3] as string).split(', ')) {
      if ((METHODS as readonly string[]).includes(method)) routes.push(`${method} ${path}`);
    }
  }
  return routes;
};

/** `METHOD /path` as the page writes a route: in backticks, ended by the backtick or a query string. */
const documentedRoutes = (): string[] =>
  [...doc.matchAll(new RegExp(`\`(${METHODS.join('|')}) (/[^\`?\\s]*)[\`?]`, 'g'))].map((match) => `${match[1] as string} ${normalise(match[2] as string)}`);

const api = useApi();

const underMount = (route: string) => MOUNTS.some((mount) => route.split(' ')[1]?.startsWith(mount));

/**
 * The routes of the built server, each confirmed by Fastify's own hasRoute (a misread tree fails here), except a
 * wildcard inside a mount whose printed prefix was lost (see routesOf): the mount is documented as a whole.
 */
const registeredRoutes = (): string[] => {
  const routes = routesOf(api.current.app.printRoutes({ commonPrefix: false }));
  const unknown = routes.filter((route) => {
    const [method, url] = route.split(' ') as [(typeof METHODS)[number], string];
    return !api.current.app.hasRoute({ method, url }) && !(url.endsWith('*') && underMount(route));
  });
  expect(unknown, 'paths read from printRoutes that the server does not have').toEqual([]);
  return routes;
};

describe('docs/http-api.md against the routes the api registers', () => {
  it('documents every route the server registers', () => {
    const registered = registeredRoutes();
    // The parse found the tree: a route of each kind is among them.
    expect(registered).toEqual(expect.arrayContaining(['GET /health', 'POST /api/governance/kill-switch', 'POST /ofrep/v1/evaluate/flags/:key', 'PUT /admin/queues/api/queues/pause']));
    const documented = new Set(documentedRoutes());
    const undocumented = registered.filter((route) => !underMount(route) && !documented.has(route));
    expect(undocumented, 'routes registered by the api and missing from docs/http-api.md').toEqual([]);
  });

  it('names no route the server does not register', () => {
    const registered = new Set(registeredRoutes());
    expect(documentedRoutes().filter((route) => !registered.has(route)), 'routes in docs/http-api.md that the api does not have').toEqual([]);
  });
});

describe('docs/http-api.md names every error code a client can meet', () => {
  // ERRORS.md lists, before its internal section, the codes answered over HTTP and the job failures.
  const clientCodes = [...errorsDoc.slice(0, errorsDoc.indexOf('\n## Internal')).matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1] as string);

  it('reads the codes from ERRORS.md, each one in the registry', () => {
    expect(clientCodes.length).toBeGreaterThan(20);
    expect(clientCodes.filter((code) => !Object.hasOwn(ERROR_CODES, code))).toEqual([]);
  });

  it.each(clientCodes)('names %s', (code) => {
    expect(doc).toContain(`\`${code}\``);
  });

  it.each(Object.keys(OFREP_ERROR_CODES))('names the OFREP code %s', (code) => {
    expect(doc).toContain(`\`${code}\``);
  });
});
