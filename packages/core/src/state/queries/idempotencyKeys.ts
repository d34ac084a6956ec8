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

/**
 * Claims a key for a request, or returns the record that already holds it. Two racing requests both get the
 * single winning record (ON CONFLICT DO NOTHING, then read the winner).
 */
export const claimIdempotencyKey = async (
  db: CommonQueryMethods,
  claim: { actor: string; key: string; requestHash: string; route: string; queue: string; jobId: string },
): Promise<{ record: IdempotencyRecord; created: boolean }> => {
  const inserted = await db.maybeOne(sql.type(idempotencyRecord)`
    INSERT INTO public.idempotency_keys (actor, idempotency_key, request_hash, route, queue, job_id)
    VALUES (${claim.actor}, ${claim.key}, ${claim.requestHash}, ${claim.route}, ${claim.queue}, ${claim.jobId})
    ON CONFLICT (actor, idempotency_key) DO NOTHING
    RETURNING actor, idempotency_key, request_hash, route, queue, job_id, created_at
  `);
  if (inserted !== null) return { record: inserted, created: true };
  const existing = await db.one(sql.type(idempotencyRecord)`
    SELECT actor, idempotency_key, request_hash, route, queue, job_id, created_at
    FROM public.idempotency_keys WHERE actor = ${claim.actor} AND idempotency_key = ${claim.key}
  `);
  return { record: existing, created: false };
};
