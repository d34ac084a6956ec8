DROP INDEX IF EXISTS public.governance_executed_jobs_audit_id;
DROP TRIGGER IF EXISTS go_live_state_outside_write ON public.go_live_state;
DROP TRIGGER IF EXISTS system_metadata_outside_write ON public.system_metadata;
DROP FUNCTION IF EXISTS public.governance_record_outside_write();
DROP TABLE IF EXISTS public.governance_audit_checkpoints;
-- Keyed and event rows stay (the log is append-only); the v1 trigger below chains new rows after them unkeyed.
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
DROP FUNCTION IF EXISTS public.governance_audit_chain_head();
DROP FUNCTION IF EXISTS public.governance_audit_row_hash_v2(TEXT, BIGINT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, JSONB, JSONB, TEXT[], TEXT, TIMESTAMPTZ, JSONB);
