import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { describeStatus } from '../responseSchemas.js';

/** Where the generated document and its browsable page are served (both public). */
export const OPENAPI_PATHS = { document: '/openapi.json', docs: '/docs' } as const;

const isApiRoute = (url: string) => url === '/api' || url.startsWith('/api/');
/** OFREP's routes take OFREP's two credentials (its own definition names them BearerAuth and ApiKeyAuth). */
const isOfrepRoute = (url: string) => url.startsWith('/ofrep/');

const describeResponses = (response: unknown): unknown => {
  if (response === null || typeof response !== 'object') return response;
  return Object.fromEntries(
    Object.entries(response as Record<string, Record<string, unknown>>).map(([status, schema]) => [
      status,
      { description: describeStatus(Number(status)), ...schema },
    ]),
  );
};

/**
 * Every registry schema is emitted twice, for input and output (`XInput`); drop the input copies that no operation
 * refers to (the shared schemas are all response schemas), so the components list only what is used.
 */
type GeneratedDocument = ReturnType<typeof jsonSchemaTransformObject>;
const dropUnusedInputSchemas = (document: GeneratedDocument): GeneratedDocument => {
  const { components } = document as { components?: { schemas?: Record<string, unknown> } };
  const schemas = components?.schemas;
  if (schemas === undefined) return document;
  const text = JSON.stringify({ ...document, components: { ...components, schemas: {} } });
  const used = Object.entries(schemas).filter(
    ([name]) => !name.endsWith('Input') || text.includes(`"#/components/schemas/${name}"`),
  );
  return { ...document, components: { ...components, schemas: Object.fromEntries(used) } } as GeneratedDocument;
};

/**
 * OpenAPI 3 generated from the zod schemas the routes validate and serialise with (fastify-type-provider-zod's
 * transforms): request bodies, query strings, path parameters and every response, errors included. Must be
 * registered before the routes: @fastify/swagger collects them as they are added. /api routes are marked as
 * needing the bearer token. The UI's own routes and the admin pages hide themselves.
 */
export const registerOpenApi = async (app: FastifyInstance, options: { release: string; serveDocs: boolean }): Promise<void> => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Valhalla go-live control plane',
        description:
          'Takes a backend from deployed to live: idempotent migrations, post-deploy verification, an audited go-live ' +
          'flag and kill switch. Every /api route needs `Authorization: Bearer <token>`. Errors have one shape: ' +
          '`{"error": {"code", "message", "details"?}}`; the codes are listed per status.',
        version: options.release,
      },
      tags: [
        { name: 'governance', description: 'Go-live, kill switch, system metadata, verification, audit' },
        { name: 'jobs', description: 'Queued jobs' },
        { name: 'operations', description: 'Health and metrics (public)' },
        { name: 'live state', description: 'The live state for applications: from memory, with ETag, and as a stream' },
        {
          name: 'OFREP',
          description:
            'OpenFeature Remote Evaluation Protocol (open-feature/protocol, service/openapi.yaml): the live state as four ' +
            'boolean flags for any OpenFeature SDK\'s OFREP provider. Errors are in OFREP\'s shapes, not the contract\'s.',
        },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token of GOVERNANCE_TOKENS, READER_TOKENS, APP_TOKENS or ALERT_TOKENS (each route says which roles)' },
          apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'OFREP routes only: the same token as for bearerAuth (an app, reader or operator token)' },
        },
      },
    },
    transform: (input) => {
      const transformed = jsonSchemaTransform(input);
      if (transformed.schema === undefined || transformed.schema.hide === true) return transformed;
      const schema = { ...transformed.schema, response: describeResponses(transformed.schema.response) };
      if (isOfrepRoute(input.url)) return { ...transformed, schema: { ...schema, security: [{ bearerAuth: [] }, { apiKeyAuth: [] }] } };
      return { ...transformed, schema: isApiRoute(input.url) ? { ...schema, security: [{ bearerAuth: [] }] } : schema };
    },
    transformObject: (input) => dropUnusedInputSchemas(jsonSchemaTransformObject(input)),
  });
  // DOCS_ENABLED=false: the document is still built (app.swagger()) but neither /docs nor /openapi.json is served.
  if (!options.serveDocs) return;
  await app.register(swaggerUi, { routePrefix: OPENAPI_PATHS.docs });
  app.get(OPENAPI_PATHS.document, { schema: { hide: true } }, async () => app.swagger());
};
