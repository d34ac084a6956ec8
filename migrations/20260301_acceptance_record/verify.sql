SELECT 'governance_accepted_jobs exists' AS check_name, to_regclass('public.governance_accepted_jobs') IS NOT NULL AS ok
UNION ALL
SELECT 'governance_reconciler_turns exists', to_regclass('public.governance_reconciler_turns') IS NOT NULL
UNION ALL
SELECT 'governance_acceptance_seq exists', to_regclass('public.governance_acceptance_seq') IS NOT NULL
UNION ALL
SELECT 'governance_change_context_v2 exists',
       to_regprocedure('public.governance_change_context_v2(text[], text, boolean)') IS NOT NULL
UNION ALL
SELECT 'executions settle acceptances', EXISTS (
    SELECT 1 FROM pg_trigger WHERE tgname = 'governance_executed_jobs_settle' AND NOT tgisinternal)
UNION ALL
SELECT 'verification runs settle acceptances', EXISTS (
    SELECT 1 FROM pg_trigger WHERE tgname = 'verification_runs_settle' AND NOT tgisinternal)
UNION ALL
SELECT 'watermarks have acceptance numbers', EXISTS (
    SELECT 1 FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name = 'governance_safety_watermarks' AND column_name = 'engage_seq');
