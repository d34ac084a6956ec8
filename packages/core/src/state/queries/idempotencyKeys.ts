import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const idempotencyRecord = z.object({
  actor: z.string(),
  idempotency_key: z.string(),
  request_hash: z.string(),
  route: z.string(),
  queue: z.string(),
  job_id: z.string(),
  created_at: z.string(),
});
export type IdempotencyRecord = z.infer<typeof idempotencyRecord>;

const existingRecord = idempotencyRecord.extend({ executed_result: z.unknown() });

/**
 * Claims a key for a request, or returns the record that already holds it, with the result of its job when that job
 * already executed (null otherwise). Two racing requests both get the
 * single winning record (ON CONFLICT DO NOTHING, then read the winner).
 */
export const claimIdempotencyKey = async (
  db: CommonQueryMethods,
  claim: { actor: string; key: string; requestHash: string; route: string; queue: string; jobId: string },
): Promise<{ record: IdempotencyRecord; created: boolean; executedResult: unknown }> => {
  const inserted = await db.maybeOne(sql.type(idempotencyRecord)`
    INSERT INTO public.idempotency_keys (actor, idempotency_key, request_hash, route, queue, job_id)
    VALUES (${claim.actor}, ${claim.key}, ${claim.requestHash}, ${claim.route}, ${claim.queue}, ${claim.jobId})
    ON CONFLICT (actor, idempotency_key) DO NOTHING
    RETURNING actor, idempotency_key, request_hash, route, queue, job_id, created_at
  `);
  if (inserted !== null) return { record: inserted, created: true, executedResult: null };
  // A replay: the same statement reads whether the key's job already executed (its result outlives the BullMQ job),
  // so answering a replay from PostgreSQL costs no extra round trip.
  const { executed_result: executedResult, ...existing } = await db.one(sql.type(existingRecord)`
    SELECT k.actor, k.idempotency_key, k.request_hash, k.route, k.queue, k.job_id, k.created_at,
           CASE
             WHEN e.job_id IS NOT NULL THEN e.result
             WHEN v.job_id IS NOT NULL THEN jsonb_build_object('runId', v.id, 'passed', v.passed, 'checks', v.checks)
           END AS executed_result
    FROM public.idempotency_keys k
    LEFT JOIN public.governance_executed_jobs e ON e.job_id = k.job_id
    LEFT JOIN public.verification_runs v ON v.job_id = k.job_id
    WHERE k.actor = ${claim.actor} AND k.idempotency_key = ${claim.key}
  `);
  return { record: existing, created: false, executedResult: executedResult ?? null };
};
