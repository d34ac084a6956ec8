import { describe, expect, it } from 'vitest';
import { useApi } from './support.js';

const api = useApi();

type Operation = { responses: Record<string, unknown>; security?: unknown[]; requestBody?: unknown; parameters?: { in: string; name: string }[] };
type OpenApiDocument = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }>; securitySchemes: Record<string, unknown> };
};

/**
 * The contract's HTTP table (README.md, "HTTP API"), plus the retry route of this version, with the error statuses each
 * route can answer. OpenAPI writes path parameters as {id}.
 */
const WRITE = ['400', '401', '409', '413', '415', '429', '503'];
const CONTRACT_ROUTES: readonly [method: string, path: string, success: string, errors: string[]][] = [
  ['get', '/health', '200', ['503']],
  ['get', '/api/governance/runbook/status', '200', ['401', '503']],
  ['post', '/api/governance/go-live', '202', WRITE],
  ['post', '/api/governance/kill-switch', '202', WRITE],
  ['post', '/api/governance/system-metadata', '202', WRITE],
  ['post', '/api/governance/verify', '202', WRITE],
  ['get', '/api/jobs/{id}', '200', ['400', '401', '404', '503']],
  ['post', '/api/jobs/{id}/retry', '202', ['400', '401', '404', '409', '413', '415', '429', '503']],
  ['get', '/api/governance/audit', '200', ['400', '401', '503']],
  ['get', '/api/governance/verifications', '200', ['400', '401', '503']],
];

const fetchDocument = async (): Promise<OpenApiDocument> => {
  const response = await api.current.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/application\/json/);
  return response.json<OpenApiDocument>();
};

/** Follows a local `#/components/schemas/X` reference. */
const resolve = (document: OpenApiDocument, schema: unknown): Record<string, unknown> => {
  const ref = (schema as { $ref?: string }).$ref;
  if (ref === undefined) return schema as Record<string, unknown>;
  const name = ref.replace('#/components/schemas/', '');
  const target = document.components.schemas[name];
  expect(target, `${ref} resolves`).toBeDefined();
  return target as Record<string, unknown>;
};

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3 document, public, with paths, components and the bearer scheme', async () => {
    const document = await fetchDocument();
    expect(document.openapi).toMatch(/^3\./);
    expect(document.info.title).toBeTruthy();
    expect(typeof document.info.version).toBe('string');
    expect(Object.keys(document.paths).length).toBeGreaterThan(0);
    expect(document.components.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      apiKeyAuth: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-API-Key' }),
    });
    expect(Object.keys(document.components.schemas)).toEqual(expect.arrayContaining(['Error400', 'Error401', 'Error503', 'JobAccepted', 'AuditEntry']));
  });

  it.each(CONTRACT_ROUTES)('documents %s %s with its success and error responses', async (method, path, success, errors) => {
    const document = await fetchDocument();
    const operation = document.paths[path]?.[method];
    expect(operation, `${method.toUpperCase()} ${path} is documented`).toBeDefined();
    if (operation === undefined) return;
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining([success, ...errors]));
    for (const status of errors) {
      const content = (operation.responses[status] as { content?: Record<string, { schema: unknown }> }).content;
      const schema = content?.['application/json']?.schema;
      expect(schema, `${method} ${path} ${status} has a JSON schema`).toBeDefined();
      // The contract's error shape, with the codes of that status (health's 503 may also be its own body).
      const variants = ((schema as { anyOf?: unknown[] }).anyOf ?? [schema]).map((variant) => resolve(document, variant));
      const errorShape = variants.find((variant) => (variant.properties as Record<string, unknown> | undefined)?.error !== undefined);
      expect(errorShape, `${method} ${path} ${status} is the error shape`).toBeDefined();
      const error = (errorShape?.properties as { error: { properties: { code: { enum: string[] }; message: unknown } } }).error;
      expect(error.properties.message).toBeDefined();
      expect(error.properties.code.enum.length).toBeGreaterThan(0);
    }
    if (path.startsWith('/api/')) expect(operation.security).toEqual([{ bearerAuth: [] }]);
  });

  it('documents request bodies, query strings and path parameters from the zod schemas', async () => {
    const document = await fetchDocument();
    const goLive = document.paths['/api/governance/go-live']?.post as Operation & {
      requestBody: { content: { 'application/json': { schema: { properties: Record<string, unknown>; required: string[]; additionalProperties?: boolean } } } };
    };
    const body = goLive.requestBody.content['application/json'].schema;
    expect(Object.keys(body.properties).sort()).toEqual(['enabled', 'reason']);
    expect(body.required.sort()).toEqual(['enabled', 'reason']);
    expect(body.additionalProperties).toBe(false);
    const audit = document.paths['/api/governance/audit']?.get;
    expect(audit?.parameters?.filter((p) => p.in === 'query').map((p) => p.name).sort()).toEqual(['action', 'actor', 'before', 'limit', 'outcome']);
    const job = document.paths['/api/jobs/{id}']?.get;
    expect(job?.parameters?.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(['id']);
  });

  it('documents the error codes of each status from the registry', async () => {
    const document = await fetchDocument();
    const codes = (name: string) =>
      (document.components.schemas[name] as { properties: { error: { properties: { code: { enum: string[] } } } } }).properties.error.properties.code.enum;
    expect(codes('Error400')).toEqual(expect.arrayContaining(['VALIDATION_FAILED', 'INVALID_JSON']));
    expect(codes('Error409')).toEqual(expect.arrayContaining(['IDEMPOTENCY_CONFLICT', 'JOB_NOT_RETRYABLE']));
    expect(codes('Error503')).toEqual(expect.arrayContaining(['DEPENDENCY_UNAVAILABLE', 'SHUTTING_DOWN']));
  });

  it('documents the OFREP routes with OFREP\'s answers and both of its credentials', async () => {
    const document = await fetchDocument();
    const single = document.paths['/ofrep/v1/evaluate/flags/{key}']?.post;
    const bulk = document.paths['/ofrep/v1/evaluate/flags']?.post;
    for (const operation of [single, bulk]) {
      expect(operation?.security).toEqual([{ bearerAuth: [] }, { apiKeyAuth: [] }]);
      expect(operation?.requestBody).toBeDefined();
      const bad = (operation?.responses['400'] as { content: Record<string, { schema: { properties: Record<string, { enum?: string[] }> } }> }).content['application/json']?.schema;
      expect(bad?.properties.errorCode?.enum).toEqual(['PARSE_ERROR', 'INVALID_CONTEXT']);
      expect(bad?.properties.error).toBeUndefined();
    }
    expect(Object.keys(single?.responses ?? {}).sort()).toEqual(['200', '400', '401', '403', '404', '503']);
    expect(Object.keys(bulk?.responses ?? {}).sort()).toEqual(['200', '304', '400', '401', '403', '503']);
    expect(bulk?.parameters?.map((parameter) => `${parameter.in}:${parameter.name}`)).toEqual(['header:if-none-match']);
    const success = document.components.schemas.OfrepEvaluationSuccess as { properties: Record<string, { enum?: string[] }> };
    expect(success.properties.key?.enum).toEqual(['valhalla-live', 'valhalla-kill-switch-engaged', 'valhalla-go-live-enabled', 'valhalla-backend-complete']);
    expect(success.properties.variant?.enum).toEqual(['on', 'off']);
  });

  it('leaves the dashboard, the docs and the document itself out', async () => {
    const paths = Object.keys((await fetchDocument()).paths);
    expect(paths.filter((path) => path.startsWith('/admin') || path.startsWith('/docs') || path === '/openapi.json')).toEqual([]);
  });
});

describe('GET /docs', () => {
  it('answers the Swagger UI page without a token', async () => {
    const response = await api.current.app.inject({ method: 'GET', url: '/docs' });
    const page = response.statusCode === 302 ? await api.current.app.inject({ method: 'GET', url: response.headers.location as string }) : response;
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toMatch(/swagger/i);
  });
});
