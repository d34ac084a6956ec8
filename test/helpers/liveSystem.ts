import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from '../../packages/core/src/index.js';
import { GOVERNANCE_ACTIONS, type GovernanceAction } from '../../packages/contract/src/index.js';
import { startApiProcess, startWorkerProcess } from '../api/processes.js';
import { ALICE } from '../api/support.js';
import { applyChange } from '../live/support.js';
import type { TestDatabase } from './database.js';
import { track } from './leaks.js';
import type { ManagedProcess } from './processes.js';
import { testRedisUrl, uniqueQueuePrefix } from './redis.js';

/** The tokens of every role the system under test is configured with. */
const SYSTEM_TOKENS = {
  operator: ALICE.token,
  reader: 'reader-token-0123456789abcdef',
  app: 'app-token-0123456789abcdefghi',
  alerts: 'alerts-token-0123456789abcdef',
} as const;

export type LiveSystem = {
  apiUrl: string;
  /** Environment for programs under test (Python tests, documentation snippets): where the api is and its tokens. */
  env: Record<string, string>;
  close: () => Promise<void>;
};

const ACTIONS = new Set<string>(Object.values(GOVERNANCE_ACTIONS));

/**
 * A real api process (on a port that survives restarts) and a real worker for one test database, plus a control
 * server that lets a program under test in another language stop, start, freeze (SIGSTOP) and thaw the api and make
 * changes the api cannot make while it is down (through the worker's own transaction):
 *
 * - `POST /api/stop`, `/api/start`, `/api/freeze`, `/api/thaw`
 * - `POST /state/change` `{"action", "reason"?}`: a governance change applied directly (the api may be down)
 * - `POST /state/go-live-enabled` `{"enabled"}`: the row as a passed verification and an enable would leave it
 *
 * `env` names them: VALHALLA_API_URL, VALHALLA_TOKEN (an app token), VALHALLA_OPERATOR_TOKEN,
 * VALHALLA_READER_TOKEN, VALHALLA_ALERTS_TOKEN, VALHALLA_TEST_CONTROL_URL.
 */
export const startLiveSystem = async (database: TestDatabase, options: { apiEnv?: Record<string, string> } = {}): Promise<LiveSystem> => {
  const prefix = uniqueQueuePrefix('system');
  const common = { databaseUrl: database.url, redisUrl: testRedisUrl(), prefix };
  const apiEnv = {
    READER_TOKENS: `dashboard:${SYSTEM_TOKENS.reader}`,
    APP_TOKENS: `checkout:${SYSTEM_TOKENS.app}`,
    ALERT_TOKENS: `alertmanager:${SYSTEM_TOKENS.alerts}`,
    RATE_LIMIT_PER_MINUTE: '1000000',
    ...options.apiEnv,
  };
  let api: { process: ManagedProcess; url: string } | undefined = await startApiProcess({ ...common, extra: apiEnv });
  const apiUrl = api.url;
  const port = Number(new URL(apiUrl).port);
  const worker = startWorkerProcess({ ...common, extra: { GOVERNANCE_TOKENS: `${ALICE.actor}:${ALICE.token}` } });

  const stopApi = async () => {
    if (api === undefined) return;
    api.process.child.kill('SIGCONT');
    await api.process.stop();
    api = undefined;
  };
  const handlers: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    '/api/stop': stopApi,
    '/api/start': async () => {
      api ??= await startApiProcess({ ...common, extra: apiEnv, port });
    },
    '/api/freeze': async () => api?.process.child.kill('SIGSTOP'),
    '/api/thaw': async () => api?.process.child.kill('SIGCONT'),
    '/state/change': async (body) => {
      if (typeof body.action !== 'string' || !ACTIONS.has(body.action)) throw new Error(`unknown action ${String(body.action)}`);
      const reason = typeof body.reason === 'string' ? body.reason : `test ${body.action}`;
      return applyChange(database.pool, body.action as GovernanceAction, { reason });
    },
    '/state/go-live-enabled': async (body) =>
      database.pool.query(sql.unsafe`UPDATE public.go_live_state SET go_live_enabled = ${body.enabled === true} WHERE id = 1`),
  };
  const control = http.createServer((request, response) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      text += chunk;
    });
    request.on('end', () => {
      const handler = request.method === 'POST' ? handlers[request.url ?? ''] : undefined;
      if (handler === undefined) {
        response.writeHead(404).end();
        return;
      }
      Promise.resolve()
        .then(() => handler(text === '' ? {} : (JSON.parse(text) as Record<string, unknown>)))
        .then(
          () => response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok": true}'),
          (error: unknown) => response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) })),
        );
    });
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const closeControl = () => new Promise<void>((resolve) => control.close(() => resolve()));
  track(control, { description: 'live system control server', isOpen: () => control.listening, close: closeControl });

  return {
    apiUrl,
    env: {
      VALHALLA_API_URL: apiUrl,
      VALHALLA_TOKEN: SYSTEM_TOKENS.app,
      VALHALLA_OPERATOR_TOKEN: SYSTEM_TOKENS.operator,
      VALHALLA_READER_TOKEN: SYSTEM_TOKENS.reader,
      VALHALLA_ALERTS_TOKEN: SYSTEM_TOKENS.alerts,
      VALHALLA_TEST_CONTROL_URL: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
    },
    close: async () => {
      control.closeAllConnections();
      await closeControl();
      await stopApi();
      await worker.stop();
    },
  };
};
