import { SUBSCRIPTION_KIND_VALUES, freeText, reasonField } from '@valhalla/contract';
import {
  createSubscription,
  deleteSubscription,
  deliveryRow,
  findSubscriptionRow,
  listDeliveries,
  listSubscriptionRows,
  parseTargetUrl,
  publicSubscription,
  resumeSubscription,
  rotateSigningSecret,
  subscriptionFilter,
  systemResolver,
  toPublicSubscription,
  updateSubscription,
  vetTarget,
  type NotificationKeyring,
  type SubscriptionRow,
} from '@valhalla/core/notifications';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../auth.js';
import { callDatabase } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError } from '../errors.js';
import { errorResponses, readErrors } from '../responseSchemas.js';

const PREFIX = '/notifications/subscriptions';
const idParams = z.strictObject({ id: z.uuid('must be a subscription id (a UUID)') });
const DELIVERIES_PAGE = { default: 50, max: 200 } as const;
const deliveriesQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^[0-9]{1,6}$/, `must be an integer from 1 to ${DELIVERIES_PAGE.max}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `must be an integer from 1 to ${DELIVERIES_PAGE.max}`).max(DELIVERIES_PAGE.max, `must be an integer from 1 to ${DELIVERIES_PAGE.max}`))
    .optional(),
});

/** A target URL: parsed here (http(s), no credentials); where it points is vetted in the handler (DNS). */
const targetUrl = z
  .string()
  .transform((value, ctx) => {
    const parsed = parseTargetUrl(value);
    if ('problem' in parsed) {
      ctx.addIssue({ code: 'custom', message: `url ${parsed.problem}` });
      return z.NEVER;
    }
    return parsed.url;
  })
  .describe('Where to POST: an http(s) URL (for slack, the incoming-webhook URL, which is its own secret)');
const description = freeText(1, 200, 'description').describe('A note for people (who owns the receiver)');

const createBody = z.strictObject({
  kind: z.enum(SUBSCRIPTION_KIND_VALUES),
  url: targetUrl,
  filter: subscriptionFilter,
  description: description.nullish(),
  enabled: z.boolean().optional().describe('false creates it paused (default true)'),
  reason: reasonField,
});
const updateBody = z
  .strictObject({ url: targetUrl.optional(), filter: subscriptionFilter.optional(), description: description.nullish(), enabled: z.boolean().optional(), reason: reasonField })
  .refine((body) => body.url !== undefined || body.filter !== undefined || body.description !== undefined || body.enabled !== undefined, 'change at least one of url, filter, description, enabled');
const reasonOnly = z.strictObject({ reason: reasonField });
const resumeBody = z.strictObject({
  reason: reasonField,
  skip_backlog: z.boolean().optional().describe('Mark every pending delivery skipped (not sent) and resume with the next entry (default false: the backlog is delivered, in order)'),
});

const withSecret = publicSubscription
  .extend({ secret: z.string().nullable().describe('The Standard Webhooks signing secret (whsec_…), shown only in this answer; null for slack') })
  .meta({ id: 'NotificationSubscriptionWithSecret' });
const listResponse = z.object({
  items: z.array(publicSubscription).describe('Oldest first'),
  can_manage: z.boolean().describe('Whether the caller may create, change and resume subscriptions (an operator in ADMIN_ACTORS)'),
});
const deletedResponse = z.object({ id: z.string(), deleted: z.literal(true), dropped_pending: z.number().int().describe('Pending deliveries dropped with it') });

/**
 * Notification subscriptions (docs/notifications.md). Reading is for operators and readers; every write is for the
 * operators of ADMIN_ACTORS and is an audit event with the caller's reason. A target is vetted when it is set (http(s),
 * no credentials, a public address unless NOTIFICATION_ALLOWED_HOSTS names it) and again at every delivery. Targets
 * and signing secrets are stored sealed; a webhook's secret is shown once, in the answer that made it.
 */
export const notificationRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const admins: ReadonlySet<string> = new Set(deps.config.adminActors);
  const settings = deps.config.notifications;
  const resolve = deps.resolveHost ?? systemResolver;
  const rateLimit = { max: deps.config.rateLimitPerMinute, timeWindow: 60_000 };
  const tags = ['notifications'];
  const writeErrors = errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503);
  const toPublic = (row: SubscriptionRow) => toPublicSubscription(row, settings.circuitThreshold);

  const requireAdmin = (request: FastifyRequest): string => {
    const { actor } = requirePrincipal(request);
    if (!admins.has(actor)) throw new ApiError('FORBIDDEN', `actor ${actor} may not manage notification subscriptions; that needs an admin actor (ADMIN_ACTORS)`);
    return actor;
  };
  const requireKeys = (): NotificationKeyring => {
    if (settings.secretKeys === undefined) {
      throw new ApiError('NOTIFICATIONS_NOT_CONFIGURED', 'set NOTIFICATION_SECRET_KEYS (keyid:base64 of 32 bytes) on the api and the worker to store notification targets and secrets');
    }
    return settings.secretKeys;
  };
  /** @throws ApiError TARGET_NOT_ALLOWED naming the host and address (never the path, which may hold a secret). */
  const vet = async (url: URL): Promise<void> => {
    const verdict = await vetTarget(url, settings.allowedHosts, resolve);
    if (!verdict.ok) throw new ApiError('TARGET_NOT_ALLOWED', `the target is not allowed: ${verdict.message}`, { details: [{ field: 'url', message: verdict.message }] });
  };
  const notFound = (id: string) => new ApiError('NOT_FOUND', `no notification subscription with id ${id}`);

  app.get(
    PREFIX,
    { schema: { tags, summary: 'Notification subscriptions with their delivery status', response: { 200: listResponse, ...readErrors() } } },
    async (request) => {
      const { actor } = requirePrincipal(request);
      const rows = await callDatabase(() => listSubscriptionRows(deps.pool));
      return { items: rows.map(toPublic), can_manage: admins.has(actor) };
    },
  );

  app.get(
    `${PREFIX}/:id`,
    { schema: { tags, summary: 'One subscription with its delivery status', params: idParams, response: { 200: publicSubscription, ...readErrors(404) } } },
    async (request) => {
      const row = await callDatabase(() => findSubscriptionRow(deps.pool, request.params.id));
      if (row === null) throw notFound(request.params.id);
      return toPublic(row);
    },
  );

  app.get(
    `${PREFIX}/:id/deliveries`,
    {
      schema: {
        tags,
        summary: 'A subscription\'s newest deliveries (pending, delivered, skipped), newest first',
        params: idParams,
        querystring: deliveriesQuery,
        response: { 200: z.object({ items: z.array(deliveryRow) }), ...readErrors(404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const [row, items] = await callDatabase(() => Promise.all([findSubscriptionRow(deps.pool, id), listDeliveries(deps.pool, id, request.query.limit ?? DELIVERIES_PAGE.default)]));
      if (row === null) throw notFound(id);
      return { items };
    },
  );

  app.post(
    PREFIX,
    {
      schema: { tags, summary: 'Create a subscription (ADMIN_ACTORS; audited). A webhook\'s signing secret is in this answer only', body: createBody, response: { 201: withSecret, ...writeErrors } },
      config: { rateLimit },
    },
    async (request, reply) => {
      const actor = requireAdmin(request);
      const secrets = requireKeys();
      const body = request.body;
      await vet(body.url);
      const { row, secret } = await callDatabase(() =>
        createSubscription(deps.pool, { audit: deps.config.auditKeyring, secrets }, {
          kind: body.kind,
          url: body.url,
          description: body.description ?? null,
          filter: body.filter,
          enabled: body.enabled ?? true,
          actor,
          reason: body.reason,
          requestId: request.id,
        }),
      );
      request.log.info({ subscription: row.id, kind: row.kind, target: row.target_display }, 'notification subscription created');
      return reply.code(201).send({ ...toPublic(row), secret });
    },
  );

  app.patch(
    `${PREFIX}/:id`,
    {
      schema: { tags, summary: 'Change a subscription: url, filter, description, enabled (pause) (ADMIN_ACTORS; audited)', params: idParams, body: updateBody, response: { 200: publicSubscription, ...writeErrors } },
      config: { rateLimit },
    },
    async (request) => {
      const actor = requireAdmin(request);
      const { url, filter, enabled, reason } = request.body;
      const secrets = url === undefined ? settings.secretKeys : requireKeys();
      if (url !== undefined) await vet(url);
      const row = await callDatabase(() =>
        updateSubscription(deps.pool, { audit: deps.config.auditKeyring, secrets }, {
          id: request.params.id,
          changes: { url, filter, enabled, description: request.body.description },
          actor,
          reason,
          requestId: request.id,
        }),
      );
      if (row === null) throw notFound(request.params.id);
      request.log.info({ subscription: row.id, enabled: row.enabled }, 'notification subscription changed');
      return toPublic(row);
    },
  );

  app.delete(
    `${PREFIX}/:id`,
    {
      schema: { tags, summary: 'Delete a subscription and its pending deliveries (ADMIN_ACTORS; audited)', params: idParams, body: reasonOnly, response: { 200: deletedResponse, ...writeErrors } },
      config: { rateLimit },
    },
    async (request) => {
      const actor = requireAdmin(request);
      const row = await callDatabase(() =>
        deleteSubscription(deps.pool, { audit: deps.config.auditKeyring, secrets: settings.secretKeys }, { id: request.params.id, actor, reason: request.body.reason, requestId: request.id }),
      );
      if (row === null) throw notFound(request.params.id);
      request.log.info({ subscription: row.id, droppedPending: row.backlog }, 'notification subscription deleted');
      return { id: row.id, deleted: true as const, dropped_pending: row.backlog };
    },
  );

  app.post(
    `${PREFIX}/:id/resume`,
    {
      schema: {
        tags,
        summary: 'Resume a subscription: clear a dead letter and retry now, delivering the backlog in order or skipping it (ADMIN_ACTORS; audited)',
        params: idParams,
        body: resumeBody,
        response: { 200: publicSubscription, ...writeErrors },
      },
      config: { rateLimit },
    },
    async (request) => {
      const actor = requireAdmin(request);
      const row = await callDatabase(() =>
        resumeSubscription(deps.pool, { audit: deps.config.auditKeyring, secrets: settings.secretKeys }, {
          id: request.params.id,
          skipBacklog: request.body.skip_backlog ?? false,
          actor,
          reason: request.body.reason,
          requestId: request.id,
        }),
      );
      if (row === null) throw notFound(request.params.id);
      request.log.info({ subscription: row.id }, 'notification subscription resumed');
      return toPublic(row);
    },
  );

  app.post(
    `${PREFIX}/:id/rotate-secret`,
    {
      schema: { tags, summary: 'Give a webhook a new signing secret, shown in this answer only (ADMIN_ACTORS; audited)', params: idParams, body: reasonOnly, response: { 200: withSecret, ...writeErrors } },
      config: { rateLimit },
    },
    async (request) => {
      const actor = requireAdmin(request);
      const secrets = requireKeys();
      const rotated = await callDatabase(() =>
        rotateSigningSecret(deps.pool, { audit: deps.config.auditKeyring, secrets }, { id: request.params.id, actor, reason: request.body.reason, requestId: request.id }),
      );
      if (rotated === null) throw notFound(request.params.id);
      if (rotated === 'not_webhook') throw new ApiError('NOT_A_WEBHOOK', `subscription ${request.params.id} is a slack subscription: its URL is its secret; change it with PATCH`);
      request.log.info({ subscription: rotated.row.id }, 'notification signing secret rotated');
      return { ...toPublic(rotated.row), secret: rotated.secret };
    },
  );
};
