-- One order for everything the api accepts: numbers from one sequence, taken when a change is accepted (or, for a
-- four-eyes change request, when it is made). A change applied in the request (engage, disable) takes its number
-- under the row-1 lock.
CREATE SEQUENCE IF NOT EXISTS public.governance_acceptance_seq;

-- The acceptance record: written by the api before it answers 2xx, so that a change outlives the loss of Redis.
-- created_ms is the change's creation time on the database's clock (ms since the epoch): the acceptance time, or the
-- time its change request was made. settled_at is set in the transaction that executes the job (triggers below), or
-- when the job failed for good; voided_at when the api could not learn whether the record committed and answered
-- 503 (the change must then never run). The reconciler re-enqueues rows that are neither settled nor voided.
CREATE TABLE IF NOT EXISTS public.governance_accepted_jobs (
    seq BIGINT PRIMARY KEY,
    job_id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    job_name TEXT NOT NULL,
    payload JSONB NOT NULL,
    actor TEXT NOT NULL,
    idempotency_key TEXT NULL,
    accepted_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    created_ms BIGINT NOT NULL,
    enqueue_count INTEGER NOT NULL DEFAULT 0,
    last_enqueued_at TIMESTAMPTZ NULL,
    settled_at TIMESTAMPTZ NULL,
    settled_as TEXT NULL,
    voided_at TIMESTAMPTZ NULL
);
-- What the reconciler scans and the oldest-unexecuted gauge reads: only open rows, so the scan stays small however long
-- the history.
CREATE INDEX IF NOT EXISTS governance_accepted_jobs_open
    ON public.governance_accepted_jobs (seq) WHERE settled_at IS NULL AND voided_at IS NULL;

-- Settled by the execution itself, whichever process writes it (the worker's batch, the api's in-request apply, a
-- verification run; older code during a rollback too): no writer has to remember it.
CREATE OR REPLACE FUNCTION public.governance_settle_acceptance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- An execution also settles a job recorded as failed for good: an operator retried it and it ran.
    UPDATE public.governance_accepted_jobs SET settled_at = clock_timestamp(), settled_as = TG_ARGV[0]
    WHERE job_id = NEW.job_id AND (settled_at IS NULL OR settled_as LIKE 'failed:%');
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS governance_executed_jobs_settle ON public.governance_executed_jobs;
CREATE TRIGGER governance_executed_jobs_settle AFTER INSERT ON public.governance_executed_jobs
    FOR EACH ROW EXECUTE FUNCTION public.governance_settle_acceptance('executed');
DROP TRIGGER IF EXISTS verification_runs_settle ON public.verification_runs;
CREATE TRIGGER verification_runs_settle AFTER INSERT ON public.verification_runs
    FOR EACH ROW WHEN (NEW.job_id IS NOT NULL) EXECUTE FUNCTION public.governance_settle_acceptance('executed');

-- Whose turn it is to reconcile: one worker of the cluster per interval takes it (an upsert of row 1 that moves
-- ran_at only when it is old enough), so several workers do not scan and re-enqueue the same rows side by side.
CREATE TABLE IF NOT EXISTS public.governance_reconciler_turns (
    id SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    ran_at TIMESTAMPTZ NOT NULL,
    ran_by TEXT NULL
);

-- Watermarks in the acceptance order. engage_seq / disable_seq: the highest acceptance number of an applied (or
-- unchanged) engage / disable. engage_direct_ms / disable_direct_ms: the highest creation time of one that came
-- straight from a queue (another producer, no acceptance number). engage_ms / disable_ms keep their meaning: the
-- highest creation time of any. Existing marks came from job timestamps: they count as direct.
ALTER TABLE public.governance_safety_watermarks ADD COLUMN IF NOT EXISTS engage_seq BIGINT NULL;
ALTER TABLE public.governance_safety_watermarks ADD COLUMN IF NOT EXISTS disable_seq BIGINT NULL;
ALTER TABLE public.governance_safety_watermarks ADD COLUMN IF NOT EXISTS engage_direct_ms BIGINT NULL;
ALTER TABLE public.governance_safety_watermarks ADD COLUMN IF NOT EXISTS disable_direct_ms BIGINT NULL;
UPDATE public.governance_safety_watermarks
SET engage_direct_ms = COALESCE(engage_direct_ms, engage_ms), disable_direct_ms = COALESCE(disable_direct_ms, disable_ms)
WHERE engage_direct_ms IS NULL AND engage_ms IS NOT NULL OR disable_direct_ms IS NULL AND disable_ms IS NOT NULL;

-- A change request takes its place in the order when it is made (its job is created then, see the worker's rules).
ALTER TABLE public.change_requests ADD COLUMN IF NOT EXISTS acceptance_seq BIGINT NULL
    DEFAULT nextval('public.governance_acceptance_seq');

-- The change context of 20260216_change_context, plus what supersession and expiry now decide on: each member's
-- acceptance (number and creation time), the database's clock in ms, and, when p_allocate_seq, a new acceptance
-- number taken under the lock (a change applied in the request is accepted at that moment).
CREATE OR REPLACE FUNCTION public.governance_change_context_v2(p_keys TEXT[], p_migration_head TEXT, p_allocate_seq BOOLEAN)
RETURNS TABLE (
    go_live JSONB,
    metadata JSONB,
    watermarks JSONB,
    executed JSONB,
    accepted JSONB,
    verification_passed BOOLEAN,
    head_id BIGINT,
    head_hash TEXT,
    head_key_id TEXT,
    now_text TEXT,
    now_ms BIGINT,
    new_seq BIGINT
)
LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'governance_change_context_v2 needs READ COMMITTED, not %', current_setting('transaction_isolation')
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    PERFORM set_config('valhalla.change', 'on', true);
    PERFORM 1 FROM public.go_live_state g, public.system_metadata m WHERE g.id = 1 AND m.id = 1 FOR UPDATE OF g, m;
    RETURN QUERY
    SELECT to_jsonb(g), to_jsonb(m),
           CASE WHEN w.id IS NULL THEN NULL ELSE jsonb_build_object(
               'engage_ms', w.engage_ms, 'disable_ms', w.disable_ms, 'engage_seq', w.engage_seq, 'disable_seq', w.disable_seq,
               'engage_direct_ms', w.engage_direct_ms, 'disable_direct_ms', w.disable_direct_ms) END,
           (SELECT coalesce(jsonb_object_agg(e.job_id, e.result), '{}'::jsonb)
            FROM public.governance_executed_jobs e WHERE e.job_id = ANY(p_keys)),
           (SELECT coalesce(jsonb_object_agg(a.job_id, jsonb_build_object(
                       'seq', a.seq, 'created_ms', a.created_ms,
                       'accepted_ms', (extract(epoch FROM a.accepted_at) * 1000)::bigint,
                       'voided', a.voided_at IS NOT NULL)), '{}'::jsonb)
            FROM public.governance_accepted_jobs a WHERE a.job_id = ANY(p_keys)),
           (SELECT r.passed AND NOT r.checks @> '[{"status": "inconclusive"}]'::jsonb
                   AND NOT r.checks @> '[{"status": "error"}]'::jsonb
            FROM public.verification_runs r WHERE r.migration_head = p_migration_head
            ORDER BY r.id DESC LIMIT 1),
           h.head_id, h.head_hash, h.head_key_id, h.now_text,
           (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
           CASE WHEN p_allocate_seq THEN nextval('public.governance_acceptance_seq') END
    FROM public.go_live_state g
    CROSS JOIN public.system_metadata m
    LEFT JOIN public.governance_safety_watermarks w ON w.id = 1
    CROSS JOIN public.governance_audit_chain_head() h
    WHERE g.id = 1 AND m.id = 1;
END
$$;
