SELECT 'notification_outbox exists' AS check_name, to_regclass('public.notification_outbox') IS NOT NULL AS ok
UNION ALL
SELECT 'the outbox trigger writes the outbox, not one delivery per subscription',
       EXISTS (SELECT 1 FROM pg_proc WHERE oid = to_regprocedure('public.notification_outbox_enqueue()')
               AND prosrc LIKE '%INSERT INTO public.notification_outbox%' AND prosrc NOT LIKE '%INSERT INTO public.notification_deliveries%')
UNION ALL
SELECT 'the audit log writes the notification outbox',
       EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'governance_audit_log_notification_outbox' AND tgenabled <> 'D')
UNION ALL
SELECT 'no pending delivery is left outside the outbox',
       NOT EXISTS (SELECT 1 FROM public.notification_deliveries d
                   JOIN public.notification_subscriptions s ON s.id = d.subscription_id
                   WHERE d.audit_id > s.delivered_through AND d.attempts = 0 AND d.outcome IS NULL
                     AND NOT EXISTS (SELECT 1 FROM public.notification_outbox o WHERE o.audit_id = d.audit_id AND s.id = ANY (o.subscription_ids)))
UNION ALL
SELECT 'notification routes match the enabled subscriptions',
       to_regclass('public.notification_routes') IS NOT NULL
       AND NOT EXISTS (SELECT id, filter_kinds, filter_actions, filter_outcomes FROM public.notification_subscriptions WHERE enabled
                       EXCEPT SELECT subscription_id, filter_kinds, filter_actions, filter_outcomes FROM public.notification_routes)
       AND NOT EXISTS (SELECT subscription_id, filter_kinds, filter_actions, filter_outcomes FROM public.notification_routes
                       EXCEPT SELECT id, filter_kinds, filter_actions, filter_outcomes FROM public.notification_subscriptions WHERE enabled);
