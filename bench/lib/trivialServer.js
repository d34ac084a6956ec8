// The HTTP ceilings of this machine, run as its own process like the api so the load generator measures the same
// way: a keep-alive node:http server that reads the body and answers 202, doing nothing else (ENQUEUE unset), or
// doing exactly one BullMQ add of the body per request and nothing else (ENQUEUE=1: no auth, no validation, no
// framework). Whatever the api does beyond that is its own cost.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';

const queue =
  process.env.ENQUEUE === '1'
    ? new Queue('bench-ceiling', { prefix: process.env.BULLMQ_PREFIX, connection: { url: process.env.REDIS_URL, enableAutoPipelining: true } })
    : undefined;

const server = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', async () => {
    const jobId = randomUUID();
    if (queue !== undefined) {
      const data = JSON.parse(Buffer.concat(chunks).toString());
      await queue.add('go-live-change', data, { jobId, priority: 10, attempts: 8, removeOnComplete: true });
    }
    response.writeHead(202, { 'content-type': 'application/json' });
    response.end(`{"jobId":"${jobId}","status":"queued"}`);
  });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(async () => {
  await queue?.obliterate({ force: true });
  await queue?.close();
  process.exit(0);
}));
