/**
 * A child process of the stream-scale bench step (bench/measure/streamScale.ts): holds `count` Server-Sent Events
 * streams to the api, each on its own connection, as an application fleet would. Each client keeps the last event id
 * it received and resumes with Last-Event-ID after the stream ends, with the reconnect policy of packages/client
 * (250 ms after a stream that delivered, doubling per failure up to 10 s, each delay ×0.5-1.5). `paused` more clients
 * stop reading after their first event (slow consumers the fan-out must not wait for).
 *
 * Reports to the parent over IPC, times from process.hrtime (CLOCK_MONOTONIC, the same clock in every process):
 * - `{ type: 'ready' }` once every client has its first event;
 * - `{ type: 'complete', id, arrivals }` when every (reading) client has received event `id`;
 * - `{ type: 'summary', … }` when asked: each client's last id, ids received out of order, reconnects.
 * Configured by the BENCH_STREAM_CLIENTS environment variable (JSON).
 */
import http from 'node:http';

type Config = { url: string; tokens: string[]; count: number; paused: number };
type Client = { lastId: string | undefined; failures: number; outOfOrder: number; reconnects: number; paused: boolean };

const config = JSON.parse(process.env.BENCH_STREAM_CLIENTS ?? '{}') as Config;
const send = (message: unknown) => process.send?.(message);
const now = () => Number(process.hrtime.bigint()) / 1e6;
/** Arrival times per event id, of the reading clients; `complete` is sent when all of them have it. */
const arrivals = new Map<string, number[]>();
const readers = config.count;
let closing = false;
let errors = 0;

const received = (client: Client, id: string) => {
  // Versions are audit ids (an etag may carry a suffix after a write made outside the product): compare the number.
  if (client.lastId !== undefined && Number.parseInt(id, 10) <= Number.parseInt(client.lastId, 10)) client.outOfOrder += 1;
  client.lastId = id;
  if (client.paused) return;
  let times = arrivals.get(id);
  if (times === undefined) arrivals.set(id, (times = []));
  times.push(now());
  if (times.length === readers) {
    send({ type: 'complete', id, arrivals: times });
    arrivals.delete(id);
  }
};

const connect = (client: Client, token: string): Promise<void> =>
  new Promise((resolve) => {
    let delivered = false;
    let firstEvent = true;
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
    if (client.lastId !== undefined) headers['last-event-id'] = client.lastId;
    const request = http.request(`${config.url}/api/governance/stream`, { headers, agent: false });
    const finish = () => {
      resolve();
      if (closing) return;
      client.failures = delivered ? 0 : client.failures + 1;
      const delay = Math.min(10_000, 250 * 2 ** Math.max(0, client.failures - 1)) * (0.5 + Math.random());
      setTimeout(() => {
        client.reconnects += 1;
        void connect(client, token);
      }, delay);
    };
    request.once('error', () => {
      errors += 1;
      finish();
    });
    request.once('response', (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        response.once('end', finish);
        return;
      }
      delivered = true;
      response.setEncoding('utf8');
      let buffer = '';
      let id: string | undefined;
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let newline = buffer.indexOf('\n');
        while (newline >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.startsWith('id: ')) id = line.slice(4);
          else if (line === '' && id !== undefined) {
            received(client, id);
            id = undefined;
            if (firstEvent) {
              firstEvent = false;
              resolve();
              if (client.paused) response.pause();
            }
          }
          newline = buffer.indexOf('\n');
        }
      });
      response.once('close', finish);
      response.once('error', () => {});
    });
    request.end();
  });

const clients: Client[] = [];
const total = config.count + config.paused;
for (let i = 0; i < total; i += 1) clients.push({ lastId: undefined, failures: 0, outOfOrder: 0, reconnects: 0, paused: i >= config.count });
// A few dozen connections at a time: the api's accept queue and this process's event loop are not flooded.
const BATCH = 50;
for (let i = 0; i < total; i += BATCH) {
  await Promise.all(clients.slice(i, i + BATCH).map((client, j) => connect(client, config.tokens[(i + j) % config.tokens.length] as string)));
}
send({ type: 'ready' });

process.on('message', (message: { type: string }) => {
  if (message.type === 'summary') {
    const lastIds: Record<string, number> = {};
    for (const client of clients) {
      if (client.paused) continue;
      const key = client.lastId ?? 'none';
      lastIds[key] = (lastIds[key] ?? 0) + 1;
    }
    send({
      type: 'summary',
      lastIds,
      outOfOrder: clients.reduce((sum, client) => sum + client.outOfOrder, 0),
      reconnects: clients.reduce((sum, client) => sum + client.reconnects, 0),
      errors,
    });
  } else if (message.type === 'close') {
    closing = true;
    process.exit(0);
  }
});
