SELECT 'governance_change_context exists' AS check_name,
       to_regprocedure('public.governance_change_context(text[], text)') IS NOT NULL AS ok
UNION ALL
SELECT 'governance_audit_log_applied_changes exists', to_regclass('public.governance_audit_log_applied_changes') IS NOT NULL;
