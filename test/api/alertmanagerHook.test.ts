import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain, listAuditEntriesInOrder, sql } from '../../packages/core/src/index.js';
import type { ManagedProcess } from '../helpers/processes.js';
import { ALERTMANAGER_BODY_LIMIT_BYTES } from '../../apps/api/src/routes/alertmanagerHook.js';
import { waitFor } from '../helpers/waitFor.js';
import { startWorkerProcess } from './processes.js';
import { ALICE, bearer, useApi } from './support.js';

const ALERTS = { actor: 'prod-am', token: 'alertmanager-token-012345678' } as const;
const READER = { actor: 'rita', token: 'rita-reader-token-0123456789' } as const;
const APP = { actor: 'shop', token: 'shop-app-token-0123456789ab' } as const;

const api = useApi({
  env: { ALERT_TOKENS: `${ALERTS.actor}:${ALERTS.token}`, READER_TOKENS: `${READER.actor}:${READER.token}`, APP_TOKENS: `${APP.actor}:${APP.token}` },
});
let worker: ManagedProcess | undefined;
beforeAll(async () => {
  worker = startWorkerProcess({ databaseUrl: api.current.database.url, redisUrl: api.current.redisUrl, prefix: api.current.prefix });
  await worker.waitForOutput(/worker ready/, 30_000);
});
afterAll(async () => {
  await worker?.stop();
});

type Alert = { status: 'firing' | 'resolved'; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; fingerprint: string };

/** An alert as Alertmanager 0.27 sends it. */
const alert = (name: string, fingerprint: string, options: { status?: 'firing' | 'resolved'; engage?: boolean; startsAt?: string } = {}): Alert => ({
  status: options.status ?? 'firing',
  labels: { alertname: name, severity: 'critical', instance: 'db-1:9187', ...(options.engage === false ? {} : { valhalla_action: 'engage_kill_switch' }) },
  annotations: { summary: `${name} on db-1`, description: 'details for humans' },
  startsAt: options.startsAt ?? '2026-02-11T10:00:00.000Z',
  endsAt: options.status === 'resolved' ? '2026-02-11T10:05:00.000Z' : '0001-01-01T00:00:00Z',
  fingerprint,
});

/** A version 4 notification for a group of alerts, with every field Alertmanager sends. */
const notification = (alerts: Alert[]) => ({
  receiver: 'valhalla',
  status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
  alerts: alerts.map((a) => ({ ...a, generatorURL: 'http://prometheus:9090/graph?g0.expr=up' })),
  groupLabels: { alertname: alerts[0]?.labels.alertname ?? '' },
  commonLabels: { severity: 'critical' },
  commonAnnotations: {},
  externalURL: 'http://alertmanager:9093',
  version: '4',
  groupKey: '{}:{alertname="DatabaseDown"}',
  truncatedAlerts: 0,
});

const hook = (payload: unknown, headers: Record<string, string> = bearer(ALERTS.token)) =>
  api.current.app.inject({ method: 'POST', url: '/api/hooks/alertmanager', headers, payload: payload as object });

const engages = async () => (await listAuditEntriesInOrder(api.current.database.pool)).filter((entry) => entry.action === 'kill_switch.engage');
const releaseKillSwitch = async () => {
  const response = await api.current.app.inject({ method: 'POST', url: '/api/governance/kill-switch', headers: bearer(ALICE.token), payload: { engaged: false, reason: 'test setup' } });
  const jobId = response.json().jobId as string;
  await waitFor(async () => (await api.current.queues.findJob(jobId))?.finishedOn !== undefined, { timeoutMs: 20_000, description: 'release applied' });
};

describe('POST /api/hooks/alertmanager', () => {
  it('401 without the alert token, 403 for reader, app tokens', async () => {
    const payload = notification([alert('DatabaseDown', 'aaaa000000000001')]);
    const jobsBefore = await api.current.jobCount();
    const none = await hook(payload, {});
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('UNAUTHENTICATED');
    for (const token of [READER.token, APP.token]) {
      const refused = await hook(payload, bearer(token));
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.code).toBe('FORBIDDEN');
    }
    expect(await api.current.jobCount()).toBe(jobsBefore);
  });

  it('engages once per firing alert across a grouped, repeated notification; resolved and unlabelled ones change nothing', async () => {
    await releaseKillSwitch();
    // The engages other cases of this file made are not this case's.
    const earlier = (await engages()).length;
    const group = notification([
      alert('DatabaseDown', 'f00d000000000001'),
      alert('ErrorBudgetBurn', 'f00d000000000002'),
      alert('DiskAlmostFull', 'f00d000000000003', { engage: false }),
      alert('OldIncident', 'f00d000000000004', { status: 'resolved' }),
    ]);
    const first = await hook(group);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ engaged: 2, ignored: 2 });
    // Alertmanager's repeat_interval: the same alerts again.
    expect((await hook(group)).json()).toEqual({ engaged: 0, ignored: 4 });
    // The alert resolves: nothing is released.
    expect((await hook(notification([alert('DatabaseDown', 'f00d000000000001', { status: 'resolved' })]))).json()).toEqual({ engaged: 0, ignored: 1 });

    const entries = await waitFor(async () => {
      const found = (await engages()).slice(earlier);
      return found.length === 2 ? found : false;
    }, { timeoutMs: 20_000, description: 'two engage entries' });
    expect(entries.map((entry) => [entry.actor, entry.reason]).sort()).toEqual([
      ['alerts:prod-am', 'alert DatabaseDown: DatabaseDown on db-1'],
      ['alerts:prod-am', 'alert ErrorBudgetBurn: ErrorBudgetBurn on db-1'],
    ]);
    expect(entries.map((entry) => entry.outcome).sort()).toEqual(['applied', 'unchanged']);
    const state = await api.current.database.pool.one(sql.unsafe`SELECT kill_switch_engaged, changed_by FROM public.go_live_state WHERE id = 1`);
    expect(state).toMatchObject({ kill_switch_engaged: true, changed_by: 'alerts:prod-am' });
    expect((await listAuditEntriesInOrder(api.current.database.pool)).some((entry) => entry.action === 'kill_switch.release' && entry.actor.startsWith('alerts:'))).toBe(false);
    expect((await verifyAuditChain(api.current.database.pool, api.current.config.auditKeyring, { mode: 'full' })).problem).toBeNull();
  });

  it('treats the same alert firing again later (new startsAt) as a new alert', async () => {
    const before = (await engages()).length;
    const again = await hook(notification([alert('DatabaseDown', 'f00d000000000001', { startsAt: '2026-02-11T12:00:00.000Z' })]));
    expect(again.json()).toEqual({ engaged: 1, ignored: 0 });
    await waitFor(async () => (await engages()).length === before + 1, { timeoutMs: 20_000, description: 'third engage entry' });
  });

  it('takes a large group in one notification (Alertmanager does not retry a 413), up to the hook\'s own limit', async () => {
    const before = (await engages()).length;
    // 300 alerts with the labels and annotations a kube-prometheus rule carries: about 1.2 KB each, far above the api's
    // 16 KiB for other routes. Two of them ask for an engage.
    const padded = (index: number, engage: boolean) => {
      const base = alert(`PodCrashLooping${index}`, `bead${String(index).padStart(12, '0')}`, { engage, startsAt: '2026-02-11T14:00:00.000Z' });
      return {
        ...base,
        labels: { ...base.labels, namespace: 'payments', pod: `payments-api-7d9f8b6c5d-${index}`, container: 'api', job: 'kube-state-metrics', prometheus: 'monitoring/k8s' },
        annotations: { ...base.annotations, description: 'Pod is restarting repeatedly. '.repeat(20), runbook_url: 'https://runbooks.example.com/kubernetes/podcrashlooping' },
      };
    };
    const group = notification(Array.from({ length: 300 }, (_, index) => padded(index, index < 2)));
    expect(JSON.stringify(group).length).toBeGreaterThan(300_000);
    const response = await hook(group);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ engaged: 2, ignored: 298 });
    await waitFor(async () => (await engages()).length === before + 2, { timeoutMs: 20_000, description: 'two engage entries' });

    const jobsBefore = await api.current.jobCount();
    const tooLarge = await api.current.app.inject({
      method: 'POST',
      url: '/api/hooks/alertmanager',
      headers: { ...bearer(ALERTS.token), 'content-type': 'application/json' },
      payload: JSON.stringify({ ...notification([alert('X', 'ab02')]), receiver: 'x'.repeat(ALERTMANAGER_BODY_LIMIT_BYTES) }),
    });
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await api.current.jobCount()).toBe(jobsBefore);
  });

  it('rejects payloads that are not version 4 or not Alertmanager\'s, naming the field', async () => {
    const wrongVersion = await hook({ ...notification([alert('X', 'ab01')]), version: '3' });
    expect(wrongVersion.statusCode).toBe(400);
    expect(wrongVersion.json().error.details).toEqual([expect.objectContaining({ field: 'version' })]);
    const noFingerprint = notification([alert('X', 'ab01')]) as { alerts: Record<string, unknown>[] };
    delete noFingerprint.alerts[0]?.fingerprint;
    const missing = await hook(noFingerprint);
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.details[0].field).toBe('alerts.0.fingerprint');
  });

  it('hostile alerts: a NUL or control characters in a fingerprint or label engage like any alert, and never stop the rest of the group', async () => {
    await releaseKillSwitch();
    const before = (await engages()).length;
    const nul = alert('Nul\u0000Alert', 'ab\u0000cd');
    nul.labels.instance = 'db\u0000\u0085\u202e-1';
    nul.annotations.summary = 'summary with \u0000 NUL, \u0007 bell, \u202e bidi and a lone \ud800 surrogate';
    const group = notification([nul, alert('Second', 'ef01'), alert('Third', 'ef02', { engage: false })]);
    const response = await hook(group);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ engaged: 2, ignored: 1 });
    const entries = (await engages()).slice(before);
    expect(entries).toHaveLength(2);
    // The reason is stored without the characters PostgreSQL or a terminal cannot take.
    expect(entries[0]?.reason).toBe('alert Nul Alert: summary with NUL, bell, bidi and a lone \ufffd surrogate');
    expect((await verifyAuditChain(api.current.database.pool, api.current.config.auditKeyring, { mode: 'full' })).problem).toBeNull();
  });

  it('a long fingerprint is one key per firing: a refire (new startsAt) engages again, a repeat does not', async () => {
    const fingerprint = 'f'.repeat(190);
    await releaseKillSwitch();
    const first = await hook(notification([alert('Long', fingerprint, { startsAt: '2026-03-01T10:00:00.000Z' })]));
    expect(first.json()).toEqual({ engaged: 1, ignored: 0 });
    expect((await hook(notification([alert('Long', fingerprint, { startsAt: '2026-03-01T10:00:00.000Z' })]))).json()).toEqual({ engaged: 0, ignored: 1 });
    await releaseKillSwitch();
    const refire = await hook(notification([alert('Long', fingerprint, { startsAt: '2026-03-01T11:00:00.000Z' })]));
    expect(refire.statusCode).toBe(200);
    expect(refire.json()).toEqual({ engaged: 1, ignored: 0 });
  });
});
