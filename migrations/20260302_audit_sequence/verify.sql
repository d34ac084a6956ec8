SELECT 'governance_audit_head exists' AS check_name, to_regclass('public.governance_audit_head') IS NOT NULL AS ok
UNION ALL
SELECT 'governance_audit_log advances the chain head witness',
       EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'governance_audit_head_advance' AND tgenabled <> 'D')
UNION ALL
SELECT 'governance_audit_head moves forward only',
       EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'governance_audit_head_forward_only' AND tgenabled <> 'D');
