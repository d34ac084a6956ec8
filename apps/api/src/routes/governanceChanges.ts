import { GOVERNANCE_ACTIONS, JOB_NAMES } from '@valhalla/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../auth.js';
import type { ApiDependencies } from '../dependencies.js';
import { enqueueChange, enqueueJob } from '../enqueueJob.js';
import { changeRequestAccepted, changeRequestResponse } from '../changeRequests/publicChangeRequest.js';
import { requestApprovalIfRequired } from '../changeRequests/requestApproval.js';
import { jobAcceptedResponse, jobCompletedResponse, writeErrors } from '../responseSchemas.js';
import { goLiveBody, killSwitchBody, systemMetadataBody, verifyBody } from '../schemas.js';

/**
 * POST routes that request a change: each validates its body, takes the actor from the token (never the body) and
 * enqueues one job from the catalog. They answer 202 with the job id; the worker applies the change.
 */
export const governanceChangeRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const rateLimit = { max: deps.config.rateLimitPerMinute, timeWindow: 60_000 };
  // Engage and disable are never rate-limited (CONTRACT.md "Break-glass"). Their routes also carry releases and
  // enables, so the limiter runs after validation (preHandler: an invalid request is answered 400 and never counted)
  // and skips a request whose validated body asks for the safe state.
  const safetyExempt = (isSafe: (body: unknown) => boolean) => ({
    ...rateLimit,
    hook: 'preHandler' as const,
    allowList: (request: { body: unknown }) => isSafe(request.body),
  });
  const bodyField = (body: unknown, field: string): unknown =>
    typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined;
  // 200 with the stored result: a replay of an executed change, or an engage or disable applied by the api while
  // Redis is unavailable (break-glass).
  const accepted = { tags: ['governance'], response: { 200: jobCompletedResponse, 202: jobAcceptedResponse, ...writeErrors() } };
  // Enable and release may answer with a change request instead (APPROVALS_REQUIRED > 1).
  const acceptedOrRequest = {
    ...accepted,
    response: { ...accepted.response, 200: z.union([jobCompletedResponse, changeRequestResponse]), 202: z.union([jobAcceptedResponse, changeRequestAccepted]) },
  };

  app.post('/governance/go-live', { schema: { ...acceptedOrRequest, summary: 'Enable or disable go-live (queued; the worker checks the preconditions; a disable is applied by the api while Redis is down)', body: goLiveBody }, config: { rateLimit: safetyExempt((body) => bodyField(body, 'enabled') === false) } }, async (request, reply) => {
    const { actor } = requirePrincipal(request);
    const { enabled, reason } = request.body;
    const action = enabled ? GOVERNANCE_ACTIONS.goLiveEnable : GOVERNANCE_ACTIONS.goLiveDisable;
    const pending = await requestApprovalIfRequired(deps, request, reply, { action, actor, reason, body: request.body });
    if (pending !== null) return pending;
    return enqueueChange(deps, request, reply, {
      name: JOB_NAMES.goLiveChange,
      payload: { action, actor, reason, requestId: request.id },
      body: request.body,
    });
  });

  app.post('/governance/kill-switch', { schema: { ...acceptedOrRequest, summary: 'Engage or release the kill switch (queued; an engage is applied by the api while Redis is down)', body: killSwitchBody }, config: { rateLimit: safetyExempt((body) => bodyField(body, 'engaged') === true) } }, async (request, reply) => {
    const { actor } = requirePrincipal(request);
    const { engaged, reason } = request.body;
    const action = engaged ? GOVERNANCE_ACTIONS.killSwitchEngage : GOVERNANCE_ACTIONS.killSwitchRelease;
    const pending = await requestApprovalIfRequired(deps, request, reply, { action, actor, reason, body: request.body });
    if (pending !== null) return pending;
    return enqueueChange(deps, request, reply, {
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
    return enqueueChange(deps, request, reply, {
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
