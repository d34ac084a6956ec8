import { GOVERNANCE_ACTIONS, JOB_NAMES, changeRequestAccepted, changeRequestResponse, jobAccepted, jobCompleted } from '@valhalla/contract';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../auth.js';
import type { ApiDependencies } from '../dependencies.js';
import { acceptJob } from '../acceptance/acceptJob.js';
import { replyWith } from '../acceptance/acceptanceAnswer.js';
import { requestKeyOf } from '../idempotency.js';
import { requestApprovalIfRequired } from '../changeRequests/requestApproval.js';
import { writeErrors } from '../responseSchemas.js';
import { goLiveBody, killSwitchBody, systemMetadataBody, verifyBody } from '../schemas.js';

/**
 * POST routes that request a change: each validates its body, takes the actor from the token (never the body) and
 * hands one job from the catalog to the acceptance path: an engage or a disable is applied in the request (200 with
 * its result); anything else is recorded in PostgreSQL and queued (202 with the job id), and a worker applies it.
 */
export const governanceChangeRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const rateLimit = { max: deps.config.rateLimitPerMinute, timeWindow: 60_000 };
  // Engage and disable are never rate-limited. Their routes also carry releases and
  // enables, so the limiter runs after validation (preHandler: an invalid request is answered 400 and never counted)
  // and skips a request whose validated body asks for the safe state.
  const safetyExempt = (isSafe: (body: unknown) => boolean) => ({
    ...rateLimit,
    hook: 'preHandler' as const,
    allowList: (request: { body: unknown }) => isSafe(request.body),
  });
  const bodyField = (body: unknown, field: string): unknown =>
    typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined;
  // 200 with the result: an engage or disable applied in the request, or a replay of an executed change.
  const accepted = { tags: ['governance'], response: { 200: jobCompleted, 202: jobAccepted, ...writeErrors() } };
  // Enable and release may answer with a change request instead (APPROVALS_REQUIRED > 1).
  const acceptedOrRequest = {
    ...accepted,
    response: { ...accepted.response, 200: z.union([jobCompleted, changeRequestResponse]), 202: z.union([jobAccepted, changeRequestAccepted]) },
  };

  app.post('/governance/go-live', { schema: { ...acceptedOrRequest, summary: 'Enable (queued; the worker checks the preconditions) or disable (applied in the request) go-live', body: goLiveBody }, config: { rateLimit: safetyExempt((body) => bodyField(body, 'enabled') === false), idempotencyKey: 'honoured' } }, async (request, reply) => {
    const { actor } = requirePrincipal(request);
    const { enabled, reason } = request.body;
    const action = enabled ? GOVERNANCE_ACTIONS.goLiveEnable : GOVERNANCE_ACTIONS.goLiveDisable;
    const pending = await requestApprovalIfRequired(deps, request, reply, { action, actor, reason, body: request.body });
    if (pending !== null) return pending;
    return replyWith(reply, await acceptJob(deps, request.log, {
      name: JOB_NAMES.goLiveChange,
      payload: { action, actor, reason, requestId: request.id },
      idempotency: requestKeyOf(request, request.body),
    }));
  });

  app.post('/governance/kill-switch', { schema: { ...acceptedOrRequest, summary: 'Engage (applied in the request) or release (queued) the kill switch', body: killSwitchBody }, config: { rateLimit: safetyExempt((body) => bodyField(body, 'engaged') === true), idempotencyKey: 'honoured' } }, async (request, reply) => {
    const { actor } = requirePrincipal(request);
    const { engaged, reason } = request.body;
    const action = engaged ? GOVERNANCE_ACTIONS.killSwitchEngage : GOVERNANCE_ACTIONS.killSwitchRelease;
    const pending = await requestApprovalIfRequired(deps, request, reply, { action, actor, reason, body: request.body });
    if (pending !== null) return pending;
    return replyWith(reply, await acceptJob(deps, request.log, {
      name: JOB_NAMES.goLiveChange,
      payload: { action, actor, reason, requestId: request.id },
      idempotency: requestKeyOf(request, request.body),
    }));
  });

  app.post('/governance/system-metadata', { schema: { ...accepted, summary: 'Update system metadata: version, backend_complete, notes (queued)', body: systemMetadataBody }, config: { rateLimit, idempotencyKey: 'honoured' } }, async (request, reply) => {
    const { actor } = requirePrincipal(request);
    const { reason, version, backend_complete, notes } = request.body;
    const metadata = {
      ...(version === undefined ? {} : { version }),
      ...(backend_complete === undefined ? {} : { backend_complete }),
      ...(notes === undefined ? {} : { notes }),
    };
    return replyWith(reply, await acceptJob(deps, request.log, {
      name: JOB_NAMES.goLiveChange,
      payload: { action: GOVERNANCE_ACTIONS.metadataUpdate, actor, reason, requestId: request.id, metadata },
      idempotency: requestKeyOf(request, request.body),
    }));
  });

  app.post('/governance/verify', { schema: { ...accepted, summary: 'Run a migration-verify for a release (queued)', body: verifyBody }, config: { rateLimit, idempotencyKey: 'honoured' } }, async (request, reply) => {
    const { actor } = requirePrincipal(request);
    const release = request.body?.release;
    return replyWith(reply, await acceptJob(deps, request.log, {
      name: JOB_NAMES.migrationVerify,
      payload: { actor, requestId: request.id, ...(release === undefined ? {} : { release }) },
      idempotency: requestKeyOf(request, request.body ?? {}),
    }));
  });
};
