-- Keys are scoped to the actor so that one operator cannot read or block another's keys. BullMQ's own dedup ends
-- when a job record is removed; this table keeps the answer for as long as it is kept.
CREATE TABLE IF NOT EXISTS public.idempotency_keys (
    actor TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    route TEXT NOT NULL,
    queue TEXT NOT NULL,
    job_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, idempotency_key)
);
