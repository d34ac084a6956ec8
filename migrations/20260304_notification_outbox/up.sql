-- No audit INSERT may run between the move below and the new trigger: one already running holds its ROW EXCLUSIVE
-- lock on the audit log until it commits (its deliveries are then committed, and moved), and one that starts waits
-- here and fires the new trigger once this commits. Without the lock a change committing meanwhile would leave its
-- deliveries in notification_deliveries, where nothing reads pending deliveries any more.
LOCK TABLE public.governance_audit_log IN SHARE ROW EXCLUSIVE MODE;

-- The outbox: one row per audit entry that matched at least one enabled subscription when it was written, with the
-- ids of those subscriptions. The pending deliveries of subscription S are the rows above S.delivered_through that
-- name S, in audit id order (the primary key). What matched is decided at audit time, so a subscription that was
-- paused or filtered the entry out never receives it, whatever it becomes later. No foreign keys (a key check would
-- lock subscription rows inside every governance change); ids of deleted subscriptions simply stop mattering.
CREATE TABLE IF NOT EXISTS public.notification_outbox (
    audit_id BIGINT PRIMARY KEY,
    subscription_ids UUID[] NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Pending deliveries move into the outbox, one row per audit entry.
INSERT INTO public.notification_outbox (audit_id, subscription_ids, created_at)
SELECT d.audit_id, array_agg(d.subscription_id ORDER BY d.subscription_id), min(d.created_at)
FROM public.notification_deliveries d
JOIN public.notification_subscriptions s ON s.id = d.subscription_id
WHERE d.audit_id > s.delivered_through
GROUP BY d.audit_id
ON CONFLICT (audit_id) DO NOTHING;

-- notification_deliveries is now the record of attempts: a pending row nobody attempted yet records nothing (the
-- outbox holds it); one with failed attempts stays, with its attempts and last error.
DELETE FROM public.notification_deliveries d
USING public.notification_subscriptions s
WHERE s.id = d.subscription_id AND d.audit_id > s.delivered_through AND d.attempts = 0 AND d.outcome IS NULL;

-- What the outbox trigger matches against: one row per enabled subscription with its filter, kept by a trigger on
-- notification_subscriptions in the transaction of each subscription write. The delivery worker updates a
-- subscription's row on every delivery (its cursor, lease, backoff): read by every governance change inside the
-- row-1 lock, that churning table cost the change path more the more it was delivered to (measured: 1 page to 511
-- pages, 0.3 ms a change, where autovacuum is off or behind). This table changes only when an operator changes a
-- subscription.
CREATE TABLE IF NOT EXISTS public.notification_routes (
    subscription_id UUID PRIMARY KEY,
    filter_kinds TEXT[] NULL,
    filter_actions TEXT[] NULL,
    filter_outcomes TEXT[] NULL
);

INSERT INTO public.notification_routes (subscription_id, filter_kinds, filter_actions, filter_outcomes)
SELECT id, filter_kinds, filter_actions, filter_outcomes FROM public.notification_subscriptions WHERE enabled
ON CONFLICT (subscription_id) DO NOTHING;

CREATE OR REPLACE FUNCTION public.notification_routes_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM public.notification_routes WHERE subscription_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.enabled THEN
        INSERT INTO public.notification_routes (subscription_id, filter_kinds, filter_actions, filter_outcomes)
        VALUES (NEW.id, NEW.filter_kinds, NEW.filter_actions, NEW.filter_outcomes);
    END IF;
    RETURN NULL;
END
$$;

-- Fires only for the writes that change what matches: UPDATE OF lists the columns a statement must set for the
-- trigger to run, so the delivery worker's updates of its own columns never fire it.
CREATE OR REPLACE TRIGGER notification_subscriptions_routes
    AFTER INSERT OR DELETE OR UPDATE OF id, enabled, filter_kinds, filter_actions, filter_outcomes
    ON public.notification_subscriptions
    FOR EACH ROW EXECUTE FUNCTION public.notification_routes_sync();

-- The same trigger, one row per entry, in one statement besides the probe: it runs inside the change's critical
-- section, so every step it saves is change throughput. Each entry NOTIFYs
-- valhalla_notifications naming the subscriptions it matched (comma-separated ids), so a worker can skip a look when
-- each of them is waiting out a backoff or already being delivered by it; PostgreSQL sends identical notifications of
-- one transaction once, so a group commit whose entries matched the same subscriptions sends one. An empty payload
-- (too many to name, or a subscription write) means "look". The notification is a column of the grouped subquery
-- that the INSERT does not take: PostgreSQL keeps a volatile output of a subquery, so it runs once per entry, without
-- reading the inserted rows back (naming them from RETURNING, unnest and a DISTINCT took a third of the trigger's time).
CREATE OR REPLACE FUNCTION public.notification_outbox_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The common case, no enabled subscription: one probe of a tiny table, the new rows are not even read.
    IF NOT EXISTS (SELECT 1 FROM public.notification_routes) THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.notification_outbox (audit_id, subscription_ids)
    SELECT matched.audit_id, matched.subscription_ids
    FROM (
        SELECT n.id AS audit_id, array_agg(s.subscription_id) AS subscription_ids,
               pg_notify('valhalla_notifications',
                         CASE WHEN octet_length(string_agg(s.subscription_id::text, ',')) > 7000 THEN '' ELSE string_agg(s.subscription_id::text, ',') END) AS notified
        FROM notification_new_audit_entries n
        JOIN public.notification_routes s
          ON (s.filter_kinds IS NULL OR n.kind = ANY (s.filter_kinds))
         AND (s.filter_actions IS NULL OR n.action = ANY (s.filter_actions))
         AND (n.kind <> 'change' OR s.filter_outcomes IS NULL OR n.outcome = ANY (s.filter_outcomes))
        GROUP BY n.id
    ) matched;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER governance_audit_log_notification_outbox
    AFTER INSERT ON public.governance_audit_log
    REFERENCING NEW TABLE AS notification_new_audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION public.notification_outbox_enqueue();
