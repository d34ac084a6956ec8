SELECT 'notification_subscriptions exists' AS check_name, to_regclass('public.notification_subscriptions') IS NOT NULL AS ok
UNION ALL
SELECT 'notification_deliveries exists', to_regclass('public.notification_deliveries') IS NOT NULL
UNION ALL
SELECT 'the audit log writes notification deliveries',
       EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'governance_audit_log_notification_outbox' AND tgenabled <> 'D');
