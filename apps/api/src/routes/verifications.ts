import { verificationsResponse } from '@valhalla/contract';
import { listVerificationRuns } from '@valhalla/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { callDatabase } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { readErrors } from '../responseSchemas.js';
import { VERIFICATIONS_PAGE, verificationsQuery } from '../schemas.js';

/** GET /api/governance/verifications?limit=: migration-verify runs, newest first, each with its per-check results. */
export const verificationRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const schema = {
    summary: 'Migration-verify runs, newest first, each with its per-check results',
    tags: ['governance'],
    querystring: verificationsQuery,
    response: { 200: verificationsResponse, ...readErrors() },
  };
  app.get('/governance/verifications', { schema }, async (request) => {
    const items = await callDatabase(() => listVerificationRuns(deps.pool, request.query.limit ?? VERIFICATIONS_PAGE.default));
    return { items };
  });
};
