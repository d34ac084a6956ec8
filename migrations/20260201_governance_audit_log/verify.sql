SELECT 'governance_audit_log exists' AS check_name, to_regclass('public.governance_audit_log') IS NOT NULL AS ok
UNION ALL
SELECT 'governance_executed_jobs exists', to_regclass('public.governance_executed_jobs') IS NOT NULL
UNION ALL
SELECT 'governance_audit_log rejects UPDATE and DELETE',
       EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'governance_audit_log_no_update_delete' AND tgenabled <> 'D')
UNION ALL
SELECT 'governance_audit_log rejects TRUNCATE',
       EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'governance_audit_log_no_truncate' AND tgenabled <> 'D')
UNION ALL
SELECT 'governance_audit_log chains hashes on insert',
       EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'governance_audit_log_chain' AND tgenabled <> 'D');
