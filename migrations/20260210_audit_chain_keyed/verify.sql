SELECT 'governance_audit_log has kind, key_id and details' AS check_name,
       (SELECT count(*) FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'governance_audit_log'
          AND column_name IN ('kind', 'key_id', 'details')) = 3 AS ok
UNION ALL
SELECT 'governance_audit_checkpoints exists', to_regclass('public.governance_audit_checkpoints') IS NOT NULL
UNION ALL
SELECT 'go_live_state records outside writes',
       EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'go_live_state_outside_write' AND tgenabled <> 'D')
UNION ALL
SELECT 'system_metadata records outside writes',
       EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'system_metadata_outside_write' AND tgenabled <> 'D')
UNION ALL
SELECT 'governance_audit_log chain trigger enabled',
       EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'governance_audit_log_chain' AND tgenabled <> 'D');
