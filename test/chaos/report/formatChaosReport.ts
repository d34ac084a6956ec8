import { CHANGE_KINDS } from '../clients/changeMix.js';
import { ALL_FAULT_KINDS, FAULT_DESCRIPTIONS } from '../faults/faultKinds.js';
import type { ChaosResult } from './chaosResult.js';
import { formatTable } from './formatTable.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The text a fault run prints: what was injected, what the clients saw, every check, the figures, the verdict. */
export const formatChaosReport = (result: ChaosResult, startedAt: number): string => {
  const { settings, http, plain, reconciler } = result;
  const lines: string[] = [];
  lines.push(
    '',
    `Fault run: 2 apis + 2 workers, ${settings.minutes} min of faults (timings x${settings.faultScale}), seed ${result.seed}`,
    `clients: ${settings.keyedClients} keyed HTTP, ${settings.unkeyedClients} without key, plain producer ${settings.plainJobsPerSecond} jobs/s`,
    `machine: ${result.machine.cpus} x ${result.machine.cpuModel}, ${result.machine.memoryGiB} GiB, Node ${result.machine.node}, load average ${result.machine.loadAverageAtStart.map((n) => n.toFixed(1)).join(' ')} at start`,
    '',
    formatTable(
      ['fault', 'count', 'what it does'],
      ALL_FAULT_KINDS.map((kind) => [kind, result.faultCounts[kind], FAULT_DESCRIPTIONS[kind]]),
    ),
    '',
    ...result.faults.map((fault) => `  +${seconds(fault.startedAt - startedAt).padStart(8)}  ${fault.kind.padEnd(20)} ${fault.detail}${fault.error === undefined ? '' : ` - NOT RECOVERED: ${fault.error}`}`),
    '',
    formatTable(
      ['requests (final answers)', 'sent', '200', '202', '503', 'other', 'no answer', 'gave up'],
      [
        ...Object.values(CHANGE_KINDS).map((kind) => {
          const t = http.byKind[kind];
          return [kind, t.requests, t.ok200, t.accepted202, t.refused503, t.other, t.noAnswer, t.gaveUp];
        }),
        ['keyed (all kinds)', http.keyed.requests, http.keyed.ok200, http.keyed.accepted202, http.keyed.refused503, http.keyed.other, http.keyed.noAnswer, http.keyed.gaveUp],
        ['no key (all kinds)', http.unkeyed.requests, http.unkeyed.ok200, http.unkeyed.accepted202, http.unkeyed.refused503, http.unkeyed.other, http.unkeyed.noAnswer, http.unkeyed.gaveUp],
      ],
    ),
    `keyed requests repeated (same key) after no answer: ${http.keyedRepeats.noAnswer}, after a 5xx: ${http.keyedRepeats.serverError}; ` +
      `requests without a key left unanswered: ${http.unkeyed.noAnswer} (of which executed: ${http.unkeyedNoAnswerExecuted}, at most once each)`,
    `change audit entries: ${result.changeEntries.total} (applied ${result.changeEntries.applied}, unchanged ${result.changeEntries.unchanged}, rejected ${result.changeEntries.rejected})`,
    '',
    formatTable(
      ['check', 'checked', 'violations', 'result'],
      result.checks.map((check) => [`${check.name}: ${check.rule}`, check.checked, check.violationCount, check.passed ? 'ok' : 'FAILED']),
    ),
  );
  for (const check of result.checks.filter((c) => !c.passed)) {
    lines.push('', `${check.name} violations (${check.violationCount}${check.violationCount > check.violations.length ? `, first ${check.violations.length}` : ''}):`, ...check.violations.map((v) => `  - ${v}`));
  }
  lines.push(
    '',
    formatTable(
      ['engage latency, request to applied (ms)', 'n', 'p50', 'p99', 'max'],
      [...result.engageLatency, result.engageAfterOutage].map((row) => [row.phase, row.count, row.p50, row.p99, row.max]),
    ),
    '  (applied: the 200 answer of an engage applied in the request; for one answered 202, its audit entry)',
    `  slowest: ${result.slowestEngages.map((e) => `${e.id} ${Math.round(e.ms)} ms (${e.status}, ${e.attempts} attempt${e.attempts === 1 ? '' : 's'}, sent +${seconds(e.sentAt - startedAt)}, ${e.phase})`).join('; ')}`,
    '',
    `plain producer (BullMQ straight to the queues): ${plain.acknowledged} adds confirmed, ${plain.executedOnce} executed once; ` +
      `${plain.unacknowledged} adds failed or unconfirmed (Redis away), of which ${plain.unacknowledgedExecuted} executed anyway`,
    `plain jobs lost with Redis (restarted empty before a worker executed them): ${plain.lostWithRedis.count}` +
      (plain.lostWithRedis.byFault.length === 0 ? '' : ` (${plain.lostWithRedis.byFault.map((f) => `${f.count} at +${seconds(f.faultStartedAt - startedAt)}`).join(', ')})`),
    '  A job added straight to a queue exists only in Redis until a worker executes it: when Redis loses its data, nothing',
    '  else knows of it. Jobs accepted through the api are recorded in PostgreSQL first and survive it (see the reconciler',
    '  below): producers that need that guarantee go through the api.',
    '',
    `reconciler: ${reconciler.reenqueues} re-enqueues of ${reconciler.jobsReenqueued} accepted jobs` +
      (Object.keys(reconciler.byQueue).length === 0 ? '' : ` (${Object.entries(reconciler.byQueue).map(([queue, q]) => `${queue}: ${q.reenqueues} of ${q.jobs}`).join(', ')})`),
    ...reconciler.emptyRestarts.map(
      (r) => `  Redis restarted empty at +${seconds(r.at - startedAt)}: ${r.atRisk} accepted jobs only in PostgreSQL, ${r.settled} executed since, the last ${r.lastSettledAfterMs === null ? '-' : seconds(r.lastSettledAfterMs)} after Redis was back`,
    ),
    `drain after the last fault: ${result.drain.drained ? `done in ${seconds(result.drain.tookMs)}` : `NOT done in ${seconds(result.drain.tookMs)} (${result.drain.openAcceptances} unsettled, ${result.drain.queuedJobs} queued)`}`,
    ...(result.drain.backlog === undefined ? [] : [`  left behind: ${JSON.stringify(result.drain.backlog, null, 2).replaceAll('\n', '\n  ')}`]),
    ...(result.startupExits.length === 0
      ? []
      : [
          `processes that exited while starting (started again): ${result.startupExits.length}`,
          ...result.startupExits.map((exit) => `  ${exit.process} at +${seconds(exit.at - startedAt)}, code ${exit.code}: ${exit.output.trim().split('\n').at(-1)?.slice(0, 300) ?? ''}`),
        ]),
    `durations: setup ${seconds(result.durationsMs.setup)}, faults ${seconds(result.durationsMs.faults)}, drain ${seconds(result.durationsMs.drain)}, total ${seconds(result.durationsMs.total)}`,
    `database ${result.database.name} ${result.database.kept ? 'kept for inspection' : 'dropped'}; product logs in ${result.logsDir}`,
    '',
    result.passed ? 'RESULT: PASSED (0 violations)' : `RESULT: FAILED (${result.violations} violations)`,
    '',
  );
  return lines.join('\n');
};
