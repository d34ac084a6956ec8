// A webhook receiver for Valhalla go-live notifications that verifies Standard Webhooks signatures with the
// `standardwebhooks` npm package (npm install standardwebhooks). Tested by test/notifications/receivers.test.ts.
//
//   WEBHOOK_SECRET=whsec_... PORT=8080 node receive.mjs
//
// Prints one JSON line per new message ({"id", "type", "audit_id", "actor", "reason"}) and answers 204; answers 400
// to a request whose signature or timestamp does not verify. Messages arrive in audit order, at least once: a
// repeat carries the same webhook-id, so it is acknowledged and skipped here.
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const secret = process.env.WEBHOOK_SECRET;
if (secret === undefined || !secret.startsWith('whsec_')) {
  console.error('set WEBHOOK_SECRET to the whsec_... secret shown when the subscription was created');
  process.exit(64);
}
const webhook = new Webhook(secret);
const MAX_BODY_BYTES = 1024 * 1024;
// Ids already handled. Keep them in your database, in the transaction that applies the message, to survive restarts.
const seen = new Set();

const server = createServer((request, response) => {
  if (request.method !== 'POST') {
    response.writeHead(405).end();
    return;
  }
  const chunks = [];
  let size = 0;
  request.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) request.destroy();
    else chunks.push(chunk);
  });
  request.on('end', () => {
    // Verify the raw bytes as received: parsing and re-serialising the JSON first would change them.
    const body = Buffer.concat(chunks);
    let message;
    try {
      message = webhook.verify(body, {
        'webhook-id': request.headers['webhook-id'] ?? '',
        'webhook-timestamp': request.headers['webhook-timestamp'] ?? '',
        'webhook-signature': request.headers['webhook-signature'] ?? '',
      });
    } catch (error) {
      console.error(`refused: ${error.message}`);
      response.writeHead(400).end();
      return;
    }
    const id = request.headers['webhook-id'];
    if (!seen.has(id)) {
      seen.add(id);
      const { type, data } = message;
      console.log(JSON.stringify({ id, type, audit_id: data.audit_id, actor: data.actor, reason: data.reason }));
    }
    response.writeHead(204).end();
  });
});

const port = Number(process.env.PORT ?? 8080);
server.listen(port, process.env.HOST ?? '127.0.0.1', () => console.error(`listening on ${port}`));
