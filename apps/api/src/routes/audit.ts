import { auditPageResponse } from '@valhalla/contract';
import { listAuditEntries } from '@valhalla/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { callDatabase } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { readErrors } from '../responseSchemas.js';
import { AUDIT_PAGE, auditQuery } from '../schemas.js';

/**
 * GET /api/governance/audit?limit=&before=&actor=&action=&outcome=: newest first, filtered by each one given. `next` is the id of the last item when older entries
 * exist (pass it as `before`), else null. One extra row is read to know whether there is a next page.
 */
export const auditRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const schema = {
    summary: 'The audit log, newest first, paged by a cursor',
    tags: ['governance'],
    querystring: auditQuery,
    response: { 200: auditPageResponse, ...readErrors() },
  };
  app.get('/governance/audit', { schema }, async (request) => {
    const limit = request.query.limit ?? AUDIT_PAGE.default;
    const rows = await callDatabase(() => listAuditEntries(deps.pool, { ...request.query, limit: limit + 1 }));
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return { items, next: rows.length > limit && last !== undefined ? String(last.id) : null };
  });
};
