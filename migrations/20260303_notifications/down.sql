DROP TRIGGER IF EXISTS governance_audit_log_notification_outbox ON public.governance_audit_log;
DROP FUNCTION IF EXISTS public.notification_outbox_enqueue();
DROP TABLE IF EXISTS public.notification_deliveries;
DROP TABLE IF EXISTS public.notification_subscriptions;
