import { expect } from 'vitest';
import { sql, type DatabasePool } from '../../packages/core/src/index.js';
import { bearer } from '../api/support.js';
import { uniqueQueuePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';

/** A queue prefix of the test's own that Redis Cluster accepts: every key in one hash slot. */
export const hashTaggedPrefix = (label: string): string => `{${uniqueQueuePrefix(label)}}`;

export type Answer = { status: number; body: Record<string, unknown> };

/** POSTs JSON to a running api (a real socket), with an operator token unless headers say otherwise. */
export const postJson = async (baseUrl: string, path: string, body: unknown, headers: Record<string, string> = bearer()): Promise<Answer> => {
  const response = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text.length === 0 ? {} : (JSON.parse(text) as Record<string, unknown>) };
};

export const getJson = async (baseUrl: string, path: string, headers: Record<string, string> = bearer()): Promise<Answer> => {
  const response = await fetch(`${baseUrl}${path}`, { headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/**
 * A request that changes the state (cycling through every kind the api takes: queued ones, and engages and disables
 * applied in the request), and the answer it must get.
 */
export const changeRequest = (i: number, label: string): { path: string; body: Record<string, unknown>; expected: number } => {
  const reason = `${label} ${i}`;
  switch (i % 5) {
    case 0:
      return { path: '/api/governance/system-metadata', body: { backend_complete: true, notes: `n${i}`, reason }, expected: 202 };
    case 1:
      return { path: '/api/governance/kill-switch', body: { engaged: false, reason }, expected: 202 };
    case 2:
      return { path: '/api/governance/go-live', body: { enabled: true, reason }, expected: 202 };
    case 3:
      return { path: '/api/governance/kill-switch', body: { engaged: true, reason }, expected: 200 };
    default:
      return { path: '/api/governance/go-live', body: { enabled: false, reason }, expected: 200 };
  }
};

/** Change entries (applied, unchanged or rejected) per job id. */
const changeEntriesOf = async (pool: DatabasePool, jobIds: readonly string[]): Promise<Map<string, number>> => {
  const rows = (await pool.any(sql.unsafe`
    SELECT job_id, count(*)::int AS n FROM public.governance_audit_log
    WHERE kind = 'change' AND job_id = ANY(${sql.array([...jobIds], 'text')}) GROUP BY job_id`)) as readonly { job_id: string; n: number }[];
  return new Map(rows.map((row) => [String(row.job_id), Number(row.n)]));
};

/** Waits until every job has its change entry, then checks each has exactly one (executed once, never twice). */
export const expectEachExecutedOnce = async (pool: DatabasePool, jobIds: readonly string[], timeoutMs = 60_000): Promise<void> => {
  const unique = [...new Set(jobIds)];
  await waitFor(async () => (await changeEntriesOf(pool, unique)).size === unique.length, {
    timeoutMs,
    intervalMs: 200,
    description: `${unique.length} changes to be executed`,
  }).catch(async (error: unknown) => {
    const seen = await changeEntriesOf(pool, unique);
    throw new Error(`${error instanceof Error ? error.message : String(error)}; missing: ${unique.filter((id) => !seen.has(id)).join(', ')}`);
  });
  const entries = await changeEntriesOf(pool, unique);
  expect([...entries.entries()].filter(([, n]) => n !== 1)).toEqual([]);
  // Nothing else ran: no change entry of a job this test did not make through the api or its producer.
  const total = Number(await pool.oneFirst(sql.unsafe`SELECT count(*) FROM public.governance_audit_log WHERE kind = 'change'`));
  expect(total).toBe(unique.length);
};

/** Acceptances neither settled nor voided (the reconciler's work left undone). */
export const openAcceptances = async (pool: DatabasePool): Promise<number> =>
  Number(await pool.oneFirst(sql.unsafe`SELECT count(*) FROM public.governance_accepted_jobs WHERE settled_at IS NULL AND voided_at IS NULL`));
