-- Every governance change (applied, unchanged or rejected) leaves one row here, written in the same transaction as
-- the change. The table is append-only (UPDATE, DELETE and TRUNCATE raise) and hash-chained: each row stores the
-- hash of the previous row, so an edit made with the triggers disabled is detectable by migration-verify.
CREATE TABLE IF NOT EXISTS public.governance_audit_log (
    id BIGINT PRIMARY KEY,
    job_id TEXT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'unchanged', 'rejected')),
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    before JSONB NOT NULL,
    after JSONB NOT NULL,
    unmet_conditions TEXT[] NOT NULL DEFAULT '{}',
    request_id TEXT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    prev_hash TEXT NULL,
    hash TEXT NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS governance_audit_log_job_id_key
    ON public.governance_audit_log (job_id) WHERE job_id IS NOT NULL;

-- The hash covers every column but the hash itself. jsonb_build_array gives one canonical text form.
CREATE OR REPLACE FUNCTION public.governance_audit_row_hash(
    prev_hash TEXT, id BIGINT, job_id TEXT, action TEXT, outcome TEXT, actor TEXT, reason TEXT,
    before JSONB, after JSONB, unmet_conditions TEXT[], request_id TEXT, created_at TIMESTAMPTZ
) RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(jsonb_build_array(
        prev_hash, id, job_id, action, outcome, actor, reason, before, after, to_jsonb(unmet_conditions), request_id,
        to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    )::text, 'UTF8')), 'hex')
$$;

-- Ids are assigned here, under a transaction-scoped advisory lock, rather than from a sequence: a sequence hands out
-- ids before commit order is known, so two concurrent writers could link their rows out of id order. Under the lock
-- the next id and the previous hash are read from committed rows only, so id order is chain order.
CREATE OR REPLACE FUNCTION public.governance_audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_row RECORD;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('public.governance_audit_log chain'));
    SELECT a.id, a.hash INTO last_row FROM public.governance_audit_log a ORDER BY a.id DESC LIMIT 1;
    NEW.id := COALESCE(last_row.id, 0) + 1;
    NEW.prev_hash := last_row.hash;
    NEW.created_at := COALESCE(NEW.created_at, now());
    NEW.hash := public.governance_audit_row_hash(
        NEW.prev_hash, NEW.id, NEW.job_id, NEW.action, NEW.outcome, NEW.actor, NEW.reason,
        NEW.before, NEW.after, NEW.unmet_conditions, NEW.request_id, NEW.created_at);
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION public.governance_audit_log_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'governance_audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE TRIGGER governance_audit_log_chain
    BEFORE INSERT ON public.governance_audit_log
    FOR EACH ROW EXECUTE FUNCTION public.governance_audit_log_chain();

CREATE OR REPLACE TRIGGER governance_audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON public.governance_audit_log
    FOR EACH ROW EXECUTE FUNCTION public.governance_audit_log_reject_change();

CREATE OR REPLACE TRIGGER governance_audit_log_no_truncate
    BEFORE TRUNCATE ON public.governance_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION public.governance_audit_log_reject_change();

-- One row per governance job whose change was committed (whatever its outcome). Written in the change's own
-- transaction; a redelivered job finds its row and returns the stored result instead of applying again.
CREATE TABLE IF NOT EXISTS public.governance_executed_jobs (
    job_id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    job_name TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'unchanged', 'rejected')),
    result JSONB NOT NULL,
    executed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
