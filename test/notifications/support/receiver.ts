import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { track } from '../../helpers/leaks.js';

/** One request a receiver got, with whether its Standard Webhooks signature verified (with the standardwebhooks library). */
export type Receipt = {
  id: string;
  timestamp: string;
  auditId: number;
  type: string;
  body: string;
  verified: boolean;
  /** How the receiver answered (or `hang`: it never did). */
  answered: number | 'hang';
  at: number;
};

/**
 * How the receiver behaves: `ok` verifies and answers 204 (401 for a bad signature); `error500` verifies, keeps the
 * message as processed, then answers 500 (the sender retries: a duplicate with the same id); `hang` reads the
 * request and never answers (past the sender's timeout); `refuse` is not listening at all (connection refused).
 */
type ReceiverMode = 'ok' | 'error500' | 'hang' | 'refuse';

export type WebhookReceiver = {
  url: string;
  port: number;
  /** Every request received, in arrival order (hung ones included). */
  receipts: Receipt[];
  /** Receipts that verified and were answered 2xx or processed before a 500: what the application saw. */
  processed: () => Receipt[];
  setSecret: (secret: string) => void;
  setMode: (mode: ReceiverMode) => Promise<void>;
  /** Answers (ok and error500 modes) this long after the request arrived, which is recorded at once. */
  setAnswerDelay: (ms: number) => void;
  /** Requests recorded but not answered yet (a worker killed now leaves one delivered but not recorded). */
  unanswered: () => number;
  close: () => Promise<void>;
};

const header = (headers: IncomingHttpHeaders, name: string): string => {
  const value = headers[name];
  return typeof value === 'string' ? value : '';
};

/** A real HTTP receiver on 127.0.0.1 that verifies signatures with the standardwebhooks package. */
export const startWebhookReceiver = async (options: { port?: number } = {}): Promise<WebhookReceiver> => {
  let secret: string | undefined;
  let mode: ReceiverMode = 'ok';
  let answerDelayMs = 0;
  let unanswered = 0;
  const receipts: Receipt[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified = false;
      try {
        if (secret !== undefined) {
          new Webhook(secret).verify(body, {
            'webhook-id': header(request.headers, 'webhook-id'),
            'webhook-timestamp': header(request.headers, 'webhook-timestamp'),
            'webhook-signature': header(request.headers, 'webhook-signature'),
          });
          verified = true;
        }
      } catch {
        verified = false;
      }
      let parsed: { type?: string; data?: { audit_id?: number } } = {};
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch {
        // Recorded as received; the test sees the unparsable body.
      }
      const answered: Receipt['answered'] = mode === 'hang' ? 'hang' : !verified ? 401 : mode === 'error500' ? 500 : 204;
      receipts.push({
        id: header(request.headers, 'webhook-id'),
        timestamp: header(request.headers, 'webhook-timestamp'),
        auditId: parsed.data?.audit_id ?? -1,
        type: parsed.type ?? '',
        body,
        verified,
        answered,
        at: Date.now(),
      });
      if (answered === 'hang') return;
      if (answerDelayMs === 0) {
        response.writeHead(answered).end();
        return;
      }
      unanswered += 1;
      setTimeout(() => {
        unanswered -= 1;
        if (!response.destroyed) response.writeHead(answered).end();
      }, answerDelayMs);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  await listen(options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/hooks/valhalla?team=ops`,
    port,
    receipts,
    processed: () => receipts.filter((receipt) => receipt.verified && receipt.answered !== 'hang' && receipt.answered !== 401),
    setSecret: (value) => {
      secret = value;
    },
    setAnswerDelay: (ms) => {
      answerDelayMs = ms;
    },
    unanswered: () => unanswered,
    setMode: async (next) => {
      if (next === 'refuse') await stopListening();
      else if (!server.listening) await listen(port);
      // Connections kept alive from before would otherwise keep a hung or refused receiver reachable.
      if (next !== mode) for (const socket of sockets) socket.destroy();
      mode = next;
    },
    close: async () => {
      closed = true;
      await stopListening();
    },
  };
  return track(receiver, { description: `webhook receiver on ${port}`, isOpen: () => !closed, close: receiver.close });
};
