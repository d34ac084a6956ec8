import { GOVERNANCE_ACTIONS, JOB_CATALOG, JOB_NAMES, ROLES } from '@valhalla/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../auth.js';
import { alertmanagerPayload, engageReason, isEngageAlert } from '../alerts/alertmanagerPayload.js';
import { callRedis } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { claimJobIdForKey } from '../idempotency.js';
import { errorResponses } from '../responseSchemas.js';

const ROUTE = '/hooks/alertmanager';

/**
 * The hook's body limit, above the api's 16 KiB: Alertmanager sends a whole group in one notification (about 1 KB per
 * alert with the usual labels and annotations, up to the schema's 1,000 alerts), does not retry a 4xx, and a refused
 * notification is an engage lost.
 */
export const ALERTMANAGER_BODY_LIMIT_BYTES = 4 * 1024 * 1024;

/**
 * POST /api/hooks/alertmanager: Prometheus Alertmanager's webhook (payload version 4), authenticated with an
 * ALERT_TOKENS bearer token (Alertmanager's `http_config.authorization`). Each firing alert labelled
 * `valhalla_action="engage_kill_switch"` engages the kill switch once, as `alerts:<token actor>`. Automation can only
 * make things safer: resolved alerts and other labels change nothing, and nothing here can release or enable.
 *
 * Once per alert: the idempotency key is the alert's fingerprint and startsAt, claimed in PostgreSQL (it outlives
 * the BullMQ job), and the job id follows from it. Alertmanager repeats a notification every repeat_interval and
 * resends after an error; a repeat enqueues the same job id again (a no-op while BullMQ has it, and the worker
 * applies a job id at most once), so a notification that failed half-way is completed by its retry.
 */
export const alertmanagerHookRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  app.post(
    ROUTE,
    {
      schema: {
        tags: ['alerts'],
        summary: 'Alertmanager webhook: firing alerts labelled valhalla_action="engage_kill_switch" engage the kill switch',
        body: alertmanagerPayload,
        response: { 200: z.object({ engaged: z.number(), ignored: z.number() }), ...errorResponses(400, 401, 403, 413, 415, 409, 503) },
      },
      bodyLimit: ALERTMANAGER_BODY_LIMIT_BYTES,
      // Engages are never rate-limited (break-glass); the hook has no rate limit of its own.
      config: { roles: [ROLES.alerts, ROLES.operator] },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const actor = `alerts:${principal.actor}`;
      let engaged = 0;
      let ignored = 0;
      for (const alert of request.body.alerts) {
        if (!isEngageAlert(alert)) {
          ignored += 1;
          continue;
        }
        const body = { fingerprint: alert.fingerprint, startsAt: alert.startsAt };
        const claimed = await claimJobIdForKey(deps.pool, {
          actor,
          key: `alertmanager:${alert.fingerprint}:${alert.startsAt}`.slice(0, 200),
          method: 'POST',
          route: `/api${ROUTE}`,
          queue: JOB_CATALOG[JOB_NAMES.goLiveChange].queue,
          body,
        });
        const reason = engageReason(alert);
        await callRedis('enqueue alert engage', () =>
          deps.queues.enqueue(JOB_NAMES.goLiveChange, { action: GOVERNANCE_ACTIONS.killSwitchEngage, actor, reason, requestId: request.id }, { jobId: claimed.jobId }),
        );
        if (claimed.replayed) {
          ignored += 1;
        } else {
          engaged += 1;
          request.log.warn({ actor, jobId: claimed.jobId, fingerprint: alert.fingerprint, alertname: alert.labels.alertname }, 'alert engages the kill switch');
        }
      }
      return { engaged, ignored };
    },
  );
};
