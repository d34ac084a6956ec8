import { GOVERNANCE_ACTIONS, JOB_NAMES } from '@valhalla/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { requirePrincipal } from '../auth.js';
import type { ApiDependencies } from '../dependencies.js';
import { enqueueJob } from '../enqueueJob.js';
import { jobAcceptedResponse, jobCompletedResponse, writeErrors } from '../responseSchemas.js';
import { goLiveBody, killSwitchBody, systemMetadataBody, verifyBody } from '../schemas.js';

/**
 * POST routes that request a change: each validates its body, takes the actor from the token (never the body) and
 * enqueues one job from the catalog. They answer 202 with the job id; the worker applies the change.
 */
export const governanceChangeRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const rateLimit = { max: deps.config.rateLimitPerMinute, timeWindow: 60_000 };
  const accepted = { tags: ['governance'], response: { 200: jobCompletedResponse, 202: jobAcceptedResponse, ...writeErrors() } };

  app.post('/governance/go-live', { schema: { ...accepted, summary: 'Enable or disable go-live (queued; the worker checks the preconditions)', body: goLiveBody }, config: { rateLimit } }, async (request, reply) => {
    const { actor } = requirePrincipal(request);
    const { enabled, reason } = request.body;
    const action = enabled ? GOVERNANCE_ACTIONS.goLiveEnable : GOVERNANCE_ACTIONS.goLiveDisable;
    return enqueueJob(deps, request, reply, {
      name: JOB_NAMES.goLiveChange,
      payload: { action, actor, reason, requestId: request.id },
      body: request.body,
    });
  });

  app.post('/governance/kill-switch', { schema: { ...accepted, summary: 'Engage or release the kill switch (queued)', body: killSwitchBody }, config: { rateLimit } }, async (request, reply) => {
    const { actor } = requirePrincipal(request);
    const { engaged, reason } = request.body;
    const action = engaged ? GOVERNANCE_ACTIONS.killSwitchEngage : GOVERNANCE_ACTIONS.killSwitchRelease;
    return enqueueJob(deps, request, reply, {
      name: JOB_NAMES.goLiveChange,
      payload: { action, actor, reason, requestId: request.id },
      body: request.body,
    });
  });

  app.post('/governance/system-metadata', { schema: { ...accepted, summary: 'Update system metadata: version, backend_complete, notes (queued)', body: systemMetadataBody }, config: { rateLimit } }, async (request, reply) => {
    const { actor } = requirePrincipal(request);
    const { reason, version, backend_complete, notes } = request.body;
    const metadata = {
      ...(version === undefined ? {} : { version }),
      ...(backend_complete === undefined ? {} : { backend_complete }),
      ...(notes === undefined ? {} : { notes }),
    };
    return enqueueJob(deps, request, reply, {
      name: JOB_NAMES.goLiveChange,
      payload: { action: GOVERNANCE_ACTIONS.metadataUpdate, actor, reason, requestId: request.id, metadata },
      body: request.body,
    });
  });

  app.post('/governance/verify', { schema: { ...accepted, summary: 'Run a migration-verify for a release (queued)', body: verifyBody }, config: { rateLimit } }, async (request, reply) => {
    const { actor } = requirePrincipal(request);
    const release = request.body?.release;
    return enqueueJob(deps, request, reply, {
      name: JOB_NAMES.migrationVerify,
      payload: { actor, requestId: request.id, ...(release === undefined ? {} : { release }) },
      body: request.body ?? {},
    });
  });
};
