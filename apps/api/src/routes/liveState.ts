import { liveStateBody } from '@valhalla/contract';
import type { FreshLiveState } from '@valhalla/core';
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LIVE_STATE_ROLES, requirePrincipal, seesChangeDetails } from '../auth.js';
import type { LiveStreams } from '../live/liveStreams.js';
import { matchesEtag } from '../live/matchesEtag.js';
import { servableState, type LiveStateSource } from '../live/servableState.js';
import { sessionIdOf } from '../sessions/sessionStore.js';
import { errorResponses } from '../responseSchemas.js';

export type LiveStateRouteDeps = LiveStateSource & { streams: LiveStreams };

const lastEventIdOf = (request: FastifyRequest): string | undefined => {
  const value = request.headers['last-event-id'];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
};

/**
 * GET /api/governance/live and GET /api/governance/stream: what applications read to obey the go-live flag and the
 * kill switch, from this instance's in-memory snapshot (README.md, "Live state for applications").
 */
export const liveStateRoutes = async (scope: FastifyInstance, deps: LiveStateRouteDeps): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  // Untyped replies here: the body is sent as the JSON string rendered once per change, which the typed reply refuses.
  scope.get(
    '/governance/live',
    {
      config: { roles: LIVE_STATE_ROLES },
      schema: {
        summary: 'The live state from memory, with ETag; If-None-Match answers 304',
        tags: ['live state'],
        response: { 200: liveStateBody, 304: z.null().describe('Not modified'), ...errorResponses(401, 403, 503) },
      },
    },
    (request, reply) => {
      const send = ({ state, ageMs }: FreshLiveState): FastifyReply => {
        reply.header('ETag', `"${state.etag}"`).header('Cache-Control', 'no-cache');
        if (ageMs > 0) reply.header('X-Live-State-Age-Ms', String(ageMs));
        if (matchesEtag(request.headers['if-none-match'], state.etag)) return reply.code(304).send();
        // The body was rendered once per audience when the state changed; a JSON string is sent as is, without
        // serialisation. App tokens see changed_by and reason null.
        return reply.type('application/json; charset=utf-8').send(seesChangeDetails(request.principal?.role) ? state.json : state.appJson);
      };
      // The common case answers synchronously from the snapshot: no promise, no microtask, no I/O. It returns
      // nothing: a returned reply is a thenable, which Fastify would await by watching the response end (listeners
      // and a closure per request, measured at about a tenth of this route's cost).
      const current = deps.listener.isListening() ? deps.listener.current() : undefined;
      if (current !== undefined) {
        send({ state: current, ageMs: 0 });
        return;
      }
      return servableState(deps).then(send);
    },
  );

  app.get(
    '/governance/stream',
    {
      config: { roles: LIVE_STATE_ROLES },
      // A HEAD would open a stream that never sends its body; HEAD is answered 404 instead.
      exposeHeadRoute: false,
      schema: {
        summary: 'Server-Sent Events: the live state on connect and after every commit that changes it',
        description:
          '`event: state`, `id: <version>`, `data: <the /live body>` (for app tokens with `changed_by` and `reason` ' +
          'null); a comment heartbeat; `Last-Event-ID` resumes.',
        tags: ['live state'],
        produces: ['text/event-stream'],
        response: { 200: z.string().describe('text/event-stream'), ...errorResponses(401, 403, 429, 503) },
      },
    },
    async (request, reply) => {
      const { tokenId, role, session } = requirePrincipal(request);
      const { state } = await servableState(deps);
      deps.streams.admit(tokenId);
      // From here the response belongs to the stream: Fastify neither serialises nor ends it.
      reply.hijack();
      deps.streams.open(tokenId, reply.raw, {
        state,
        lastEventId: lastEventIdOf(request),
        headers: reply.getHeaders() as OutgoingHttpHeaders,
        audience: seesChangeDetails(role) ? 'full' : 'app',
        session: session === null ? null : { id: sessionIdOf(session.secret), expiresAt: session.expiresAt },
      });
    },
  );
};
