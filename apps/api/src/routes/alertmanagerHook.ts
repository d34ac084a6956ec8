import { ROLES } from '@valhalla/core';
import { GOVERNANCE_ACTIONS, JOB_NAMES } from '@valhalla/contract';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { acceptJob } from '../acceptance/acceptJob.js';
import { requirePrincipal } from '../auth.js';
import { alertEngageKey, alertmanagerPayload, engageReason, isEngageAlert } from '../alerts/alertmanagerPayload.js';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError } from '../errors.js';
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
 * `valhalla_action="engage_kill_switch"` engages the kill switch once, as `alerts:<token actor>`, applied in the
 * request like every engage. Automation can only make things safer: resolved alerts and other labels change nothing,
 * and nothing here can release or enable.
 *
 * Once per alert firing: its idempotency key follows from the fingerprint and startsAt, so Alertmanager's repeats
 * (every repeat_interval, and after an error) replay the engage instead of making another. The answer is 200 only
 * when every engage is committed in PostgreSQL; otherwise 503, and Alertmanager sends the notification again (an
 * engage queued meanwhile and its retry are one change). One alert's trouble never stops the others of its group.
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
        response: { 200: z.object({ engaged: z.number(), ignored: z.number() }), ...errorResponses(400, 401, 403, 413, 415, 503) },
      },
      bodyLimit: ALERTMANAGER_BODY_LIMIT_BYTES,
      // Engages are never rate-limited; the hook has no rate limit of its own.
      // Its keys follow from the alerts (fingerprint and startsAt); a header would add nothing.
      config: { roles: [ROLES.alerts, ROLES.operator], idempotencyKey: 'not-needed' },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const actor = `alerts:${principal.actor}`;
      let engaged = 0;
      let ignored = 0;
      let uncommitted = 0;
      let lastFailure: unknown;
      for (const alert of request.body.alerts) {
        if (!isEngageAlert(alert)) {
          ignored += 1;
          continue;
        }
        try {
          const answer = await acceptJob(deps, request.log, {
            name: JOB_NAMES.goLiveChange,
            payload: { action: GOVERNANCE_ACTIONS.killSwitchEngage, actor, reason: engageReason(alert), requestId: request.id },
            idempotency: { key: alertEngageKey(alert), method: 'POST', route: `/api${ROUTE}`, body: { fingerprint: alert.fingerprint, startsAt: alert.startsAt } },
          });
          // 202: queued while PostgreSQL is unreachable, not committed yet.
          if (answer.code !== 200) uncommitted += 1;
          else if (answer.replayed) ignored += 1;
          else {
            engaged += 1;
            request.log.warn({ actor, jobId: answer.body.jobId, fingerprint: alert.fingerprint, alertname: alert.labels.alertname }, 'alert engaged the kill switch');
          }
        } catch (error) {
          uncommitted += 1;
          lastFailure = error;
          request.log.error({ err: error, fingerprint: alert.fingerprint }, 'alert engage failed');
        }
      }
      if (uncommitted > 0) {
        throw new ApiError('DEPENDENCY_UNAVAILABLE', `${uncommitted} engage(s) of this notification could not be committed; send it again (Alertmanager retries a 5xx)`, { cause: lastFailure });
      }
      return { engaged, ignored };
    },
  );
};
