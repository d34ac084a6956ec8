SELECT 'governance_live_state() answers' AS check_name, public.governance_live_state() IS NOT NULL AS ok
UNION ALL
SELECT 'live state notify triggers exist',
       (SELECT count(*) FROM pg_trigger WHERE tgname IN ('go_live_state_notify_update', 'go_live_state_notify_insert_delete',
           'system_metadata_notify_update', 'system_metadata_notify_insert_delete',
           'go_live_state_notify_truncate', 'system_metadata_notify_truncate')) = 6;
