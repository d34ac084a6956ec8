import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STATE_GAUGE_NAMES } from '../../packages/core/src/index.js';
import { ENV_SECTIONS } from '../../packages/core/src/config/env/index.js';
import { DELIVERY_FAILURES, NOTIFIABLE_ACTIONS } from '../../packages/core/src/notifications/index.js';
import { REPO_ROOT } from '../helpers/processes.js';

const doc = readFileSync(join(REPO_ROOT, 'docs/notifications.md'), 'utf8');
const source = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

/** docs/notifications.md is the reference: it must name what the code defines, so it cannot go stale unnoticed. */
describe('docs/notifications.md', () => {
  it('lists every audit action a filter may name', () => {
    expect(NOTIFIABLE_ACTIONS.filter((action) => !doc.includes(`\`${action}\``))).toEqual([]);
  });

  it('explains every delivery failure code', () => {
    expect(Object.values(DELIVERY_FAILURES).filter((code) => !doc.includes(`\`${code}\``))).toEqual([]);
  });

  it('documents every NOTIFICATION_* variable the env module defines, in its configuration table', () => {
    const variables = ENV_SECTIONS.flatMap((section) => Object.keys(section.variables)).filter((name) => name.startsWith('NOTIFICATION_'));
    expect(variables.length).toBeGreaterThan(5);
    expect(variables.filter((name) => !new RegExp(`^\\| \`${name}\` \\|`, 'm').test(doc))).toEqual([]);
  });

  it('names every notification metric the api and the worker export, and both alert rules', () => {
    const gauges = Object.values(STATE_GAUGE_NAMES).filter((name) => name.startsWith('valhalla_notification_'));
    const counters = [...source('apps/worker/src/notifications/notificationMetrics.ts').matchAll(/name: '(valhalla_notification_[a-z_]+)'/g)].map((match) => match[1] as string);
    expect(gauges.length + counters.length).toBeGreaterThanOrEqual(7);
    expect([...gauges, ...counters].filter((name) => !doc.includes(name))).toEqual([]);
    for (const alert of source('deploy/prometheus/alerts.yml').match(/ValhallaNotification[A-Za-z]+/g) ?? []) expect(doc).toContain(alert);
  });

  it('links the verify examples that exist', () => {
    for (const example of ['docs/examples/webhook-receiver/receive.mjs', 'docs/examples/webhook-receiver/receive.py']) {
      expect(doc).toContain(example.replace('docs/', ''));
      expect(source(example).length).toBeGreaterThan(500);
    }
  });
});
