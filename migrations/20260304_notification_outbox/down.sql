-- As in up: no audit INSERT runs between the move back and the old trigger.
LOCK TABLE public.governance_audit_log IN SHARE ROW EXCLUSIVE MODE;

-- The trigger of 20260303_notifications again: one delivery row per matching subscription.
CREATE OR REPLACE FUNCTION public.notification_outbox_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched TEXT;
BEGIN
    -- The common case, no enabled subscription: one probe of a tiny table, the new rows are not even read.
    IF NOT EXISTS (SELECT 1 FROM public.notification_subscriptions WHERE enabled) THEN
        RETURN NULL;
    END IF;
    WITH written AS (
        INSERT INTO public.notification_deliveries (subscription_id, audit_id)
        SELECT s.id, n.id
        FROM notification_new_audit_entries n
        JOIN public.notification_subscriptions s
          ON s.enabled
         AND (s.filter_kinds IS NULL OR n.kind = ANY (s.filter_kinds))
         AND (s.filter_actions IS NULL OR n.action = ANY (s.filter_actions))
         AND (n.kind <> 'change' OR s.filter_outcomes IS NULL OR n.outcome = ANY (s.filter_outcomes))
        RETURNING subscription_id
    )
    SELECT string_agg(DISTINCT subscription_id::text, ',') INTO touched FROM written;
    IF touched IS NOT NULL THEN
        PERFORM pg_notify('valhalla_notifications', CASE WHEN octet_length(touched) > 7000 THEN '' ELSE touched END);
    END IF;
    RETURN NULL;
END
$$;

-- Pending deliveries go back to one row per (subscription, entry); a row that already records attempts keeps them.
-- (Guarded: a down run again after the outbox is gone does nothing.)
DO $$
BEGIN
    IF to_regclass('public.notification_outbox') IS NOT NULL THEN
        INSERT INTO public.notification_deliveries (subscription_id, audit_id, created_at)
        SELECT s.id, o.audit_id, o.created_at
        FROM public.notification_outbox o
        JOIN public.notification_subscriptions s ON s.id = ANY (o.subscription_ids) AND o.audit_id > s.delivered_through
        ON CONFLICT (subscription_id, audit_id) DO NOTHING;
    END IF;
END
$$;

DROP TABLE IF EXISTS public.notification_outbox;

DROP TRIGGER IF EXISTS notification_subscriptions_routes ON public.notification_subscriptions;
DROP FUNCTION IF EXISTS public.notification_routes_sync();
DROP TABLE IF EXISTS public.notification_routes;
