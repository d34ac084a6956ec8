import { integer, oneOf } from './schemas.js';
import { defaulted, optional, text } from './variable.js';

const TOKEN_LIST = 'comma-separated actor:token (tokens 24+ characters in production)';

/** Variables only the api acts on (the worker checks them too: see sharedVariables). */
export const apiVariables = {
  PORT: defaulted({
    ...integer(0, 65535),
    default: 3000,
    readBy: ['api', 'dev'],
    doc: 'Port the api listens on (Render provides it). npm run dev takes the next free port from it.',
  }),
  HOST: defaulted({
    ...text(),
    default: '0.0.0.0',
    readBy: ['api', 'worker'],
    doc: "Address the api listens on, and the worker's metrics server. npm run dev passes 127.0.0.1 unless HOST is set.",
  }),
  GOVERNANCE_TOKENS: optional({
    ...text(),
    type: TOKEN_LIST,
    defaultText: 'none; required in production (npm run dev makes a development token)',
    readBy: ['api', 'dev'],
    doc: 'Operator credentials: every route under /api. Secret: enter it in the platform, never commit it.',
  }),
  READER_TOKENS: optional({
    ...text(),
    type: TOKEN_LIST,
    readBy: ['api'],
    doc: 'Reader credentials: every GET under /api, the live endpoint and the stream; no writes.',
  }),
  APP_TOKENS: optional({
    ...text(),
    type: TOKEN_LIST,
    readBy: ['api'],
    doc: "Applications' credentials (the Python service's): only the live state endpoint and its stream.",
  }),
  ALERT_TOKENS: optional({
    ...text(),
    type: TOKEN_LIST,
    readBy: ['api'],
    doc: 'Alertmanager credentials: only the Alertmanager webhook, which can only make things safer.',
  }),
  ADMIN_ACTORS: optional({
    ...text(),
    type: 'comma-separated actors of GOVERNANCE_TOKENS',
    defaultText: 'none',
    readBy: ['api'],
    doc: 'Operators with administrator rights: the queue dashboard, queue controls and notification administration.',
  }),
  APPROVAL_TTL_MINUTES: defaulted({
    ...integer(1, 10_080),
    default: 60,
    readBy: ['api'],
    doc: 'How long a change request waits for its approvals before it expires.',
  }),
  RATE_LIMIT_PER_MINUTE: defaulted({
    ...integer(1, 1_000_000),
    default: 120,
    readBy: ['api'],
    doc: 'Write requests per minute per client (per token, else per address) before 429.',
  }),
  CORS_ORIGINS: optional({
    ...text(),
    type: 'comma-separated origins',
    defaultText: 'none (no cross-origin access)',
    readBy: ['api'],
    doc: 'Browser origins allowed to call the api from another site.',
  }),
  TRUST_PROXY: defaulted({
    ...integer(0, 10),
    default: 0,
    readBy: ['api'],
    doc: "Proxies in front of the api whose X-Forwarded-For is trusted for the client's address (1 on Render).",
  }),
  REQUEST_TIMEOUT_MS: defaulted({
    ...integer(1000, 600_000),
    default: 30_000,
    readBy: ['api'],
    doc: 'A whole request (headers and body) must arrive within this; then 408 and the socket closes.',
  }),
  HEADERS_TIMEOUT_MS: optional({
    ...integer(1000, 600_000),
    defaultText: 'the smaller of 10000 and REQUEST_TIMEOUT_MS',
    readBy: ['api'],
    doc: 'The request headers must arrive within this; at most REQUEST_TIMEOUT_MS.',
  }),
  SOCKET_IDLE_TIMEOUT_MS: optional({
    ...integer(1000, 3_600_000),
    defaultText: 'the larger of 30000 and twice LIVE_HEARTBEAT_MS',
    readBy: ['api'],
    doc: 'A connection with nothing read or written for this long, and no request in progress, is closed; longer than LIVE_HEARTBEAT_MS so open streams stay up.',
  }),
  METRICS_TOKEN: optional({
    ...text(),
    type: 'string without white space (24+ characters in production)',
    defaultText: 'none: GET /metrics is open outside production and closed in production',
    readBy: ['api'],
    doc: 'When set, GET /metrics needs Authorization: Bearer <METRICS_TOKEN>.',
  }),
  DOCS_ENABLED: defaulted({
    ...oneOf(['true', 'false'], 'must be true or false'),
    default: 'true',
    readBy: ['api'],
    doc: 'Serve the API reference at /docs and /openapi.json.',
  }),
  LIVE_STREAMS_PER_TOKEN: defaulted({
    ...integer(1, 1_000_000),
    default: 1_000,
    readBy: ['api'],
    doc: 'Open live-state streams one token may hold at once.',
  }),
  LIVE_HEARTBEAT_MS: defaulted({
    ...integer(10, 600_000),
    default: 15_000,
    readBy: ['api'],
    doc: 'How often an open live-state stream sends a heartbeat.',
  }),
  LIVE_FALLBACK_MAX_AGE_MS: defaulted({
    ...integer(10, 600_000),
    default: 1_000,
    readBy: ['api'],
    doc: 'While the LISTEN connection is down, the live state is read from the table at least this often.',
  }),
  LIVE_MAX_STALENESS_MS: defaulted({
    ...integer(10, 3_600_000),
    default: 15_000,
    readBy: ['api'],
    doc: 'Past this age (listener down and reads failing) the live endpoint answers 503 rather than a state it cannot vouch for.',
  }),
} as const;
