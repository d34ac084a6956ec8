import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startApi } from '../api/support.js';
import { track } from '../helpers/leaks.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { freePort } from '../helpers/redisServer.js';
import { waitFor } from '../helpers/waitFor.js';
import { burstPayload, startInProcessWorker, useWorkerFixture, waitForGovernanceJobs } from '../worker/support/workerHarness.js';
import { NOTIFY_ENV, SAFETY_ACTIONS, auditIdsOf, statusOf, subscribe } from './support/harness.js';

const fixture = useWorkerFixture('notify-receivers');
const EXAMPLES = join(REPO_ROOT, 'docs/examples/webhook-receiver');

/** Starts an example receiver (a real child process) and waits until it listens. */
const startExample = async (command: string, script: string, env: Record<string, string>) => {
  const child = spawn(command, [join(EXAMPLES, script)], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const isOpen = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (isOpen()) child.kill('SIGTERM');
    await exited;
  };
  track(child, { description: `${script} receiver`, isOpen, close: stop });
  await waitFor(() => /listening on/.test(stderr) || (!isOpen() ? Promise.reject(new Error(`${script} exited: ${stderr}`)) : false), { timeoutMs: 15_000, description: `${script} to listen` });
  return {
    lines: () => stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { id: string; type: string; audit_id: number; actor: string; reason: string }),
    stderr: () => stderr,
    stop,
  };
};

/** A request signed the way Standard Webhooks says, by hand, to probe what the examples refuse. */
const signedPost = (port: number, secret: string, body: string, headers: { id: string; timestamp: number; signature?: string }) => {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const signature = headers.signature ?? `v1,${createHmac('sha256', key).update(`${headers.id}.${headers.timestamp}.${body}`).digest('base64')}`;
  return fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': headers.id, 'webhook-timestamp': String(headers.timestamp), 'webhook-signature': signature },
    body,
  });
};

describe.each([
  ['Node (standardwebhooks)', process.execPath, 'receive.mjs'],
  ['Python (standard library)', 'python3', 'receive.py'],
])('the %s verify example in docs/examples', (_name, command, script) => {
  it('receives every engage and release in audit order, and refuses a bad signature, a stale timestamp and a tampered body', async () => {
    const { database, prefix, producer } = fixture.current;
    const api = await startApi(database, { env: NOTIFY_ENV });
    try {
      const port = await freePort();
      const subscription = await subscribe(api, { url: `http://127.0.0.1:${port}/`, filter: { actions: [...SAFETY_ACTIONS] } });
      const secret = subscription.secret as string;
      const receiver = await startExample(command, script, { WEBHOOK_SECRET: secret, PORT: String(port) });
      const worker = await startInProcessWorker(database, prefix, { env: NOTIFY_ENV });
      const total = 30;
      await Promise.all(Array.from({ length: total }, (_, i) => producer.change(burstPayload(i, `${script} example`))));
      await waitForGovernanceJobs(producer, total);
      const expected = await auditIdsOf(database.pool, SAFETY_ACTIONS);
      await waitFor(() => receiver.lines().length >= expected.length, { timeoutMs: 30_000, description: `${expected.length} messages printed` });
      await waitFor(async () => (await statusOf(api, subscription.id)).backlog === 0, { description: 'no backlog' });
      expect(receiver.lines().map((line) => line.audit_id)).toEqual(expected);
      expect(new Set(receiver.lines().map((line) => line.type))).toEqual(new Set(SAFETY_ACTIONS));
      await worker.close();

      const now = Math.floor(Date.now() / 1000);
      const body = JSON.stringify({ type: 'kill_switch.engage', timestamp: new Date().toISOString(), data: { audit_id: 999_999, actor: 'mallory', reason: 'forged' } });
      expect((await signedPost(port, secret, body, { id: 'msg_probe_1', timestamp: now })).status).toBe(204);
      // The same id again: acknowledged, not handled twice.
      expect((await signedPost(port, secret, body, { id: 'msg_probe_1', timestamp: now })).status).toBe(204);
      expect((await signedPost(port, secret, body, { id: 'msg_probe_2', timestamp: now, signature: 'v1,AAAA' })).status).toBe(400);
      expect((await signedPost(port, secret, body, { id: 'msg_probe_3', timestamp: now - 3_600 })).status).toBe(400);
      expect((await signedPost(port, `whsec_${Buffer.alloc(32, 1).toString('base64')}`, body, { id: 'msg_probe_4', timestamp: now })).status).toBe(400);
      const tampered = await fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': 'msg_probe_5',
          'webhook-timestamp': String(now),
          'webhook-signature': `v1,${createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`msg_probe_5.${now}.${body}`).digest('base64')}`,
        },
        body: body.replace('forged', 'FORGED'),
      });
      expect(tampered.status).toBe(400);
      const probes = receiver.lines().filter((line) => line.id.startsWith('msg_probe'));
      expect(probes.map((line) => line.id)).toEqual(['msg_probe_1']);
      await receiver.stop();
    } finally {
      await api.close();
    }
  });
});
