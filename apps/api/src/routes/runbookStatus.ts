import { findLatestFullAuditCheck, findLatestVerificationRun, isLive, listLiveWorkers, readGovernanceRows } from '@valhalla/core';
import { appliedRevisionIds } from '@valhalla/core/migrator';
import { runbookStatusResponse } from '@valhalla/contract';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { callDatabase } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { readPausedQueues } from '../pausedQueues.js';
import { errorResponses } from '../responseSchemas.js';

/** A worker counts as alive when its heartbeat is younger than this many heartbeat intervals. */
const ALIVE_AFTER_MISSED_BEATS = 3;

/**
 * GET /api/governance/runbook/status: everything an operator checks before and after go-live, in one answer.
 * Row 1 of both tables keeps the table's column names; `live` is derived, never stored.
 */
export const runbookStatusRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const schema = {
    summary: 'Everything an operator checks before and after go-live',
    tags: ['governance'],
    response: { 200: runbookStatusResponse, ...errorResponses(401, 403, 503) },
  };
  app.get('/governance/runbook/status', { schema }, async () => {
    const chain = await deps.migrations.chain();
    const pausedQueues = readPausedQueues(deps);
    const [rows, applied, lastVerification, workers, lastFullAuditCheck] = await callDatabase(() =>
      Promise.all([
        readGovernanceRows(deps.pool),
        appliedRevisionIds(deps.pool),
        findLatestVerificationRun(deps.pool),
        listLiveWorkers(deps.pool, deps.config.heartbeatIntervalMs * ALIVE_AFTER_MISSED_BEATS),
        findLatestFullAuditCheck(deps.pool),
      ]),
    );
    return {
      system_metadata: rows?.metadata ?? null,
      go_live_state: rows?.goLive ?? null,
      live: rows === null ? false : isLive(rows.goLive),
      migrations: {
        head: chain.head,
        applied,
        pending: chain.revisions.map((revision) => revision.id).filter((id) => !applied.includes(id)),
      },
      last_verification: lastVerification,
      last_full_audit_check: lastFullAuditCheck,
      workers: { alive: workers.length, items: workers },
      paused_queues: await pausedQueues,
    };
  });
};
