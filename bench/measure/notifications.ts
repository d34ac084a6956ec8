import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { LIVE_STATE_CHANNEL } from '@valhalla/core';
import { postJson } from '../lib/http.ts';
import { median, percentile, round } from '../lib/stats.ts';
import { CLIENTS, httpChangeRate, rawChangeRate } from './changeRates.ts';
import type { BenchContext, Row } from './context.ts';

/** The comparison: 10 subscriptions against none. */
const SUBSCRIPTIONS = 10;

type ReceiverMode = 'ok' | 'down';

/**
 * A receiver on 127.0.0.1. `ok` answers 204 (and, for the latency samples, verifies the signature with the
 * standardwebhooks library and notes when each audit entry arrived); `down` answers 503 with Retry-After: 600, so a
 * subscription fails once and then waits: its deliveries pile up in the outbox while nothing is sent.
 */
const startReceiver = async () => {
  let mode: ReceiverMode = 'ok';
  let verifier: Webhook | undefined;
  const arrivals = new Map<number, number>();
  let received = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const at = performance.now();
      if (mode === 'down') {
        response.writeHead(503, { 'retry-after': '600' }).end();
        return;
      }
      received += 1;
      if (verifier !== undefined) {
        const body = Buffer.concat(chunks).toString('utf8');
        const headers = request.headers as IncomingHttpHeaders & Record<string, string>;
        const message = verifier.verify(body, {
          'webhook-id': headers['webhook-id'] ?? '',
          'webhook-timestamp': headers['webhook-timestamp'] ?? '',
          'webhook-signature': headers['webhook-signature'] ?? '',
        }) as { data: { audit_id: number } };
        arrivals.set(message.data.audit_id, at);
      }
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    setMode: (next: ReceiverMode) => {
      mode = next;
    },
    verifyWith: (secret: string | undefined) => {
      verifier = secret === undefined ? undefined : new Webhook(secret);
    },
    arrivedAt: (auditId: number) => arrivals.get(auditId),
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

const api = async (ctx: BenchContext, method: string, path: string, body?: unknown) => {
  const response = await fetch(`${ctx.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ctx.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const parsed = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(parsed)}`);
  return parsed;
};

const subscribe = async (ctx: BenchContext, url: string, filter: object) =>
  (await api(ctx, 'POST', '/api/notifications/subscriptions', { kind: 'webhook', url, filter, reason: 'bench' })) as { id: string; secret: string };
const removeAll = async (ctx: BenchContext) => {
  const { items } = (await api(ctx, 'GET', '/api/notifications/subscriptions')) as { items: { id: string }[] };
  for (const { id } of items) await api(ctx, 'DELETE', `/api/notifications/subscriptions/${id}`, { reason: 'bench' });
};
const totalBacklog = async (ctx: BenchContext): Promise<number> =>
  ((await api(ctx, 'GET', '/api/notifications/subscriptions')) as { items: { status: { backlog: number } }[] }).items.reduce((sum, item) => sum + item.status.backlog, 0);

/** Kill-switch changes (engages and releases in turn) over HTTP until all are committed: changes per second. */
const changeThroughput = (ctx: BenchContext, label: string, changes = ctx.changes): Promise<number> => {
  // A quick run only checks the harness: a hundred changes per round keep it short.
  const total = ctx.quick ? 100 : changes;
  return httpChangeRate(ctx, {
    path: '/api/governance/kill-switch',
    changes: total,
    bodyFor: (i) => ({ engaged: i % 2 === 0, reason: `notification bench ${label} ${i}` }),
    minAccepted: total * 0.99,
  });
};

/**
 * The outbox trigger's own time in one audit INSERT, as PostgreSQL reports it (EXPLAIN ANALYZE, rolled back): server
 * time, hardly disturbed by how busy the machine's other processes are. Median of `samples`, in ms.
 */
const outboxTriggerMs = async (ctx: BenchContext, samples: number): Promise<number> => {
  const client = await ctx.pool.connect();
  try {
    const times: number[] = [];
    for (let i = 0; i < samples; i += 1) {
      await client.query('BEGIN');
      const result = await client.query<{ 'QUERY PLAN': { Triggers?: { 'Trigger Name': string; Time: number }[] }[] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) INSERT INTO public.governance_audit_log (kind, action, actor, reason, before, after, details)
         VALUES ('event', 'queue.paused', 'bench', 'outbox cost', '{}', '{}', '{}')`,
      );
      await client.query('ROLLBACK');
      const trigger = result.rows[0]?.['QUERY PLAN'][0]?.Triggers?.find((one) => one['Trigger Name'] === 'governance_audit_log_notification_outbox');
      if (trigger === undefined) throw new Error('the outbox trigger did not run');
      times.push(trigger.Time);
    }
    return median(times);
  } finally {
    client.release();
  }
};

/**
 * (9) Notifications. Engage commit → signed webhook received on the loopback: the commit is when the state's NOTIFY
 * reaches a listener (PostgreSQL sends it after the commit), the receipt when the receiver (verifying the signature
 * with the standardwebhooks library) has the body. Then change throughput (HTTP → committed, 8 clients) with 10
 * subscriptions matching every change against none: with the 10 receivers down (the outbox is written in each
 * change's transaction, nothing is sent: the cost on the change path itself) in 3 × rounds short pairs, each pair's
 * ratio on its own, the median reported,
 * and with them up (deliveries compete with the changes for this machine's two cores), and how fast the outbox drains.
 * The same comparison on the change transaction alone (issued with `pg`, no HTTP or queue: less noise), receivers down,
 * and the outbox trigger's own server time per audit INSERT with 10 subscriptions and with none.
 */
export const measureNotifications = async (ctx: BenchContext): Promise<Row[]> => {
  const receiver = await startReceiver();
  const listener = new pg.Client({ connectionString: ctx.databaseUrl });
  await listener.connect();
  try {
    await removeAll(ctx);
    // Latency: one subscription to engages and releases; each sample toggles the kill switch.
    const latency = await subscribe(ctx, receiver.url, { actions: ['kill_switch.engage', 'kill_switch.release'] });
    receiver.verifyWith(latency.secret);
    let awaited: { engaged: boolean; resolve: (value: { at: number; version: number }) => void } | undefined;
    listener.on('notification', (message) => {
      const at = performance.now();
      if (awaited === undefined || message.channel !== LIVE_STATE_CHANNEL) return;
      const state = JSON.parse(message.payload ?? '{}') as { kill_switch_engaged?: boolean; version?: number };
      if (state.kill_switch_engaged !== awaited.engaged || state.version === undefined) return;
      awaited.resolve({ at, version: state.version });
      awaited = undefined;
    });
    await listener.query(`LISTEN ${LIVE_STATE_CHANNEL}`);
    let engaged = !(await ctx.pool.query<{ k: boolean }>('SELECT kill_switch_engaged AS k FROM public.go_live_state WHERE id = 1')).rows[0]?.k;
    const samples: number[] = [];
    for (let i = 0; i < (ctx.quick ? 20 : 300); i += 1) {
      const committed = new Promise<{ at: number; version: number }>((resolve) => {
        awaited = { engaged, resolve };
      });
      await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged, reason: `notification latency ${i}` });
      const commit = await committed;
      const deadline = Date.now() + 10_000;
      while (receiver.arrivedAt(commit.version) === undefined) {
        if (Date.now() > deadline) throw new Error(`audit entry ${commit.version} was not delivered within 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      samples.push((receiver.arrivedAt(commit.version) as number) - commit.at);
      engaged = !engaged;
    }
    receiver.verifyWith(undefined);
    await removeAll(ctx);
    // The bench's own LISTEN session would read every notification of the comparisons below (PostgreSQL hands each
    // listening session every message of its database): only the product's listeners stay.
    await listener.query(`UNLISTEN ${LIVE_STATE_CHANNEL}`);
    // One unmeasured round first: the delivery of the latency samples may still be winding down, and the first round
    // after it was the fastest of every run (each run's first pair, none first, came out 1.05-1.11).
    await changeThroughput(ctx, 'settle', Math.max(1, Math.round(ctx.changes / 5)));

    // Throughput with the receivers down against none: short pairs in alternating order (none first, then down
    // first), each pair's ratio taken on its own, the median of those ratios reported: drift over the run (the
    // database grows, the machine's load moves) cancels within a pair. The receivers up (deliveries competing for the
    // CPU) after that, in rounds of their own, so their backlog never overlaps a pair.
    const none: number[] = [];
    const down: number[] = [];
    const pairRatios: number[] = [];
    const up: number[] = [];
    const drain: number[] = [];
    const pairChanges = Math.max(1, Math.round(ctx.changes / 2));
    for (let pair = 0; pair < ctx.rounds * 3; pair += 1) {
      const rates: Partial<Record<'none' | 'down', number>> = {};
      for (const variant of pair % 2 === 0 ? (['none', 'down'] as const) : (['down', 'none'] as const)) {
        if (variant === 'down') {
          receiver.setMode('down');
          for (let s = 0; s < SUBSCRIPTIONS; s += 1) await subscribe(ctx, receiver.url, { kinds: ['change'] });
        }
        rates[variant] = await changeThroughput(ctx, variant, pairChanges);
        if (variant === 'down') await removeAll(ctx);
      }
      none.push(rates.none as number);
      down.push(rates.down as number);
      pairRatios.push((rates.down as number) / (rates.none as number));
    }
    for (let r = 0; r < ctx.rounds; r += 1) {
      receiver.setMode('ok');
      for (let s = 0; s < SUBSCRIPTIONS; s += 1) await subscribe(ctx, receiver.url, { kinds: ['change'] });
      up.push(await changeThroughput(ctx, 'up'));
      const drainStarted = performance.now();
      const before = receiver.received();
      while ((await totalBacklog(ctx)) > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      drain.push((receiver.received() - before) / ((performance.now() - drainStarted) / 1000));
      await removeAll(ctx);
    }
    // The change transaction alone, with the 10 subscriptions (receivers down) and without, in short alternating rounds.
    const rawNone: number[] = [];
    const rawTen: number[] = [];
    const rawTotal = ctx.quick ? 100 : Math.round(ctx.changes / 2);
    for (let r = 0; r < ctx.rounds * 2; r += 1) {
      for (const withSubscriptions of r % 2 === 0 ? [false, true] : [true, false]) {
        if (withSubscriptions) {
          receiver.setMode('down');
          for (let s = 0; s < SUBSCRIPTIONS; s += 1) await subscribe(ctx, receiver.url, { kinds: ['change'] });
          rawTen.push(await rawChangeRate(ctx, rawTotal));
          await removeAll(ctx);
        } else {
          rawNone.push(await rawChangeRate(ctx, rawTotal));
        }
      }
    }
    // The trigger's own cost, 10 event subscriptions against none (each sample inserts one event entry).
    const triggerSamples = ctx.quick ? 20 : 300;
    const triggerNone = await outboxTriggerMs(ctx, triggerSamples);
    receiver.setMode('down');
    for (let s = 0; s < SUBSCRIPTIONS; s += 1) await subscribe(ctx, receiver.url, { kinds: ['event'] });
    const triggerTen = await outboxTriggerMs(ctx, triggerSamples);
    await removeAll(ctx);
    receiver.setMode('ok');
    const p99 = percentile(samples, 99);
    const ratioRaw = median(rawTen) / median(rawNone);
    const ratioDown = median(pairRatios);
    return [
      { measure: 'notification latency p50 (engage commit → signed webhook received on the loopback)', value: round(percentile(samples, 50)), unit: 'ms' },
      {
        measure: 'notification latency p99 (engage commit → signed webhook received on the loopback)',
        value: round(p99),
        unit: 'ms',
        ...(ctx.quick ? {} : { target: '< 100 ms', met: p99 < 100 }),
      },
      {
        measure: `change throughput with ${SUBSCRIPTIONS} subscriptions, receivers down (outbox written, nothing sent) vs none (median of ${pairRatios.length} paired rounds)`,
        value: round(median(down), 0),
        unit: 'changes/s',
        baseline: round(median(none), 0),
        ratio: round(ratioDown, 3),
        perRound: pairRatios.map((ratio) => round(ratio, 3)),
        ...(ctx.quick ? {} : { target: '≥ 0.95× none', met: ratioDown >= 0.95 }),
      },
      {
        measure: `change throughput with ${SUBSCRIPTIONS} subscriptions delivering at the same time (2 cores shared) vs none`,
        value: round(median(up), 0),
        unit: 'changes/s',
        baseline: round(median(none), 0),
        ratio: round(median(up) / median(none), 3),
      },
      {
        measure: `change transaction alone (pg, ${CLIENTS} clients) with ${SUBSCRIPTIONS} subscriptions, receivers down, vs none`,
        value: round(median(rawTen), 0),
        unit: 'changes/s',
        baseline: round(median(rawNone), 0),
        ratio: round(ratioRaw, 3),
        perRound: rawTen.map((rate, i) => round(rate / (rawNone[i] as number), 3)),
        ...(ctx.quick ? {} : { target: '≥ 0.95× none', met: ratioRaw >= 0.95 }),
      },
      { measure: 'outbox trigger, server time per audit INSERT, no subscription', value: round(triggerNone, 4), unit: 'ms' },
      {
        measure: `outbox trigger, server time per audit INSERT, ${SUBSCRIPTIONS} matching subscriptions`,
        value: round(triggerTen, 4),
        unit: 'ms',
        baseline: round(triggerNone, 4),
        ratio: round(triggerTen / Math.max(triggerNone, 0.0001), 1),
      },
      { measure: `outbox drain after a burst (${SUBSCRIPTIONS} subscriptions, one worker)`, value: round(median(drain), 0), unit: 'deliveries/s' },
    ];
  } finally {
    await removeAll(ctx).catch(() => {});
    await listener.end();
    await receiver.close();
  }
};
