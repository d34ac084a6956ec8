import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { STATE_GAUGE_NAMES } from '../../packages/core/src/index.js';
import { JOB_FAILURE_CODES } from '../../packages/contract/src/index.js';
import { startApiProcess, startWorkerProcess } from '../api/processes.js';
import { useTestDatabase } from '../helpers/database.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';

/**
 * deploy/: the Prometheus alert rules parse and behave (promtool), the Grafana dashboard is well-formed, and every
 * metric a rule or a panel names is exported by a real api or worker (so a renamed metric breaks this test, not an
 * on-call night).
 */
const RULES = join(REPO_ROOT, 'deploy/prometheus/alerts.yml');
const RULE_TESTS = join(REPO_ROOT, 'deploy/prometheus/alerts.test.yml');
const DASHBOARD = join(REPO_ROOT, 'deploy/grafana/valhalla-go-live.json');
const REQUIRED_ALERTS = [
  'ValhallaNoWorkerHeartbeat',
  'ValhallaVerificationFailed',
  'ValhallaVerificationStale',
  'ValhallaKillSwitchEngaged',
  'ValhallaFailedJobs',
  'ValhallaQueueStuck',
  'ValhallaAcceptedChangesStuck',
  'ValhallaRetryBacklog',
  'ValhallaMetricsSourceDown',
  'ValhallaNotificationDeadLettered',
  'ValhallaNotificationBacklog',
];

type Rule = { alert?: string; expr?: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
type RuleTest = { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] };
type Panel = { id: number; title: string; type: string; datasource?: { uid?: string }; targets?: { expr?: string; refId?: string }[] };

const rules = (): Rule[] => (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((group) => group.rules);
const dashboard = () => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; title: string; panels: Panel[] };
/** Metric names in a PromQL expression (ours all start with valhalla_). */
const metricNames = (expr: string): string[] => [...expr.matchAll(/\bvalhalla_[a-z0-9_]+\b/g)].map((match) => match[0]);

const promtool = (...args: string[]) => spawnSync('promtool', args, { encoding: 'utf8' });

/** The metric names a /metrics answer declares, histogram and summary series included. */
const exportedNames = (text: string): Set<string> => {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name as string);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name as string}${suffix}`);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name as string}${suffix}`);
  }
  return names;
};
const helpLines = (text: string, names: readonly string[]) =>
  Object.fromEntries(names.map((name) => [name, new RegExp(`^# HELP ${name} (.*)$`, 'm').exec(text)?.[1]]));

const database = useTestDatabase({ poolSize: 2 });

describe('deploy/: Prometheus rules and Grafana dashboard', () => {
  it('the alert rules parse with promtool and its unit tests of them pass', () => {
    // Debian's `prometheus` package ships promtool; .ci/run installs it when missing. A missing tool fails here.
    const version = promtool('--version');
    expect(version.error, 'promtool not found: apt-get install -y prometheus').toBeUndefined();
    const check = promtool('check', 'rules', RULES);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const unit = promtool('test', 'rules', RULE_TESTS);
    expect(unit.status, unit.stdout + unit.stderr).toBe(0);
  });

  it('has every required alert, each with a severity, a summary and a bounded expression', () => {
    const all = rules();
    expect(all.map((rule) => rule.alert)).toEqual(expect.arrayContaining(REQUIRED_ALERTS));
    for (const rule of all) {
      expect(rule.alert, JSON.stringify(rule)).toMatch(/^Valhalla[A-Za-z]+$/);
      expect(['critical', 'warning', 'info']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary?.length ?? 0).toBeGreaterThan(10);
      expect(metricNames(rule.expr ?? '').length).toBeGreaterThan(0);
    }
  });

  it('every rule has promtool unit tests with input series where it fires and where it does not', () => {
    const tests = (parse(readFileSync(RULE_TESTS, 'utf8')) as { tests: RuleTest[] }).tests;
    const cases = tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const alert of rules().map((rule) => rule.alert as string)) {
      const mine = cases.filter((entry) => entry.alertname === alert);
      expect(mine.some((entry) => entry.exp_alerts.length > 0), `${alert} fires in a test`).toBe(true);
      expect(mine.some((entry) => entry.exp_alerts.length === 0), `${alert} stays quiet in a test`).toBe(true);
    }
  });

  it('ValhallaFailedJobs counts exactly the failures the job contract does not call rejections', () => {
    const rule = rules().find((candidate) => candidate.alert === 'ValhallaFailedJobs');
    // The one table (packages/contract/src/jobFailure.ts) decides; the rule selects its label, never codes.
    expect(rule?.expr).toMatch(/valhalla_worker_job_failures_total\{rejection="false"\}/);
    expect(rule?.expr).not.toMatch(/valhalla_queue_jobs/);
    const needPerson = Object.entries(JOB_FAILURE_CODES)
      .filter(([, flags]) => !flags.rejection)
      .map(([code]) => code)
      .sort();
    expect(needPerson).toEqual(['EXPIRED', 'INTERNAL_ERROR', 'JOB_INTERRUPTED']);
    for (const code of needPerson) expect(rule?.annotations?.description).toContain(code);
  });

  it('the dashboard is one Grafana document with unique panel ids, each querying the datasource variable', () => {
    const board = dashboard();
    expect(board.uid).toBe('valhalla-go-live');
    const ids = board.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of board.panels) {
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      expect(panel.targets?.length ?? 0, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(metricNames(target.expr ?? '').length, panel.title).toBeGreaterThan(0);
    }
    const titles = board.panels.map((panel) => panel.title);
    for (const needed of ['Live', 'Kill switch', 'Worker heartbeat age', 'Failed jobs', 'Queue depth']) expect(titles).toContain(needed);
  });

  it(
    'every metric a rule or a panel names is on /metrics of a real api or worker, and both define the state gauges alike',
    async () => {
      const prefix = uniqueQueuePrefix('observability');
      const env = { databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix };
      const api = await startApiProcess(env);
      const worker = startWorkerProcess({ ...env, extra: { METRICS_PORT: '0', HOST: '127.0.0.1' } });
      try {
        await worker.waitForOutput(/worker ready/, 30_000);
        const port = await waitFor(() => worker.logLines().find((line) => line.msg === 'metrics listening')?.port as number | undefined, {
          description: 'the worker metrics port',
        });
        // The worker's startup verification, so the verification gauges have values on both.
        const [apiText, workerText] = await waitFor(async () => {
          const texts = await Promise.all([fetch(`${api.url}/metrics`), fetch(`http://127.0.0.1:${port}/metrics`)].map(async (response) => (await response).text()));
          return texts.every((text) => /^valhalla_last_verification_passed 1$/m.test(text) && /^valhalla_worker_heartbeat_age_seconds \S+$/m.test(text))
            ? (texts as [string, string])
            : false;
        }, { timeoutMs: 30_000, description: 'both processes to report the startup verification and the heartbeat' });
        const exported = new Set([...exportedNames(apiText), ...exportedNames(workerText)]);
        const named = new Set([
          ...rules().flatMap((rule) => metricNames(rule.expr ?? '')),
          ...dashboard().panels.flatMap((panel) => (panel.targets ?? []).flatMap((target) => metricNames(target.expr ?? ''))),
        ]);
        expect([...named].filter((name) => !exported.has(name))).toEqual([]);

        // One definition: the same gauges, with the same meaning, on both processes.
        const stateGauges = Object.values(STATE_GAUGE_NAMES);
        expect(helpLines(workerText, stateGauges)).toEqual(helpLines(apiText, stateGauges));
        for (const name of stateGauges) expect(exportedNames(apiText).has(name), name).toBe(true);
      } finally {
        await Promise.all([worker.stop(), api.process.stop()]);
      }
    },
    60_000,
  );
});

