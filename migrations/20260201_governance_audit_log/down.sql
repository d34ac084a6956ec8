DROP TABLE IF EXISTS public.governance_executed_jobs;
DROP TABLE IF EXISTS public.governance_audit_log;
DROP FUNCTION IF EXISTS public.governance_audit_log_reject_change();
DROP FUNCTION IF EXISTS public.governance_audit_log_chain();
DROP FUNCTION IF EXISTS public.governance_audit_row_hash(TEXT, BIGINT, TEXT, TEXT, TEXT, TEXT, TEXT, JSONB, JSONB, TEXT[], TEXT, TIMESTAMPTZ);
