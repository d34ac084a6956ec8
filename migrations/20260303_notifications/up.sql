-- Who is told about audit entries, and how far each one has been told. The target URL and the signing secret are
-- stored encrypted by the application (AES-256-GCM under NOTIFICATION_SECRET_KEYS, key id in the text), so a database
-- reader cannot use them; target_display is a form safe to show (a Slack URL's path, a query string are hidden).
-- The filter lives in three arrays so the outbox trigger matches it in SQL: NULL means "any".
-- Delivery state: delivered_through is the audit id of the newest entry delivered (or skipped) for the subscription;
-- deliveries after it are pending and go out in audit id order, one at a time. A worker holds a lease
-- (lease_owner, lease_until) while it delivers, so several workers never deliver to one subscription at once.
CREATE TABLE IF NOT EXISTS public.notification_subscriptions (
    id UUID PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'slack')),
    description TEXT NULL,
    target_display TEXT NOT NULL,
    target_ciphertext TEXT NOT NULL,
    secret_ciphertext TEXT NULL,
    filter_kinds TEXT[] NULL,
    filter_actions TEXT[] NULL,
    filter_outcomes TEXT[] NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_through BIGINT NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_since TIMESTAMPTZ NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    dead_lettered_at TIMESTAMPTZ NULL,
    dead_letter_reason TEXT NULL,
    last_success_at TIMESTAMPTZ NULL,
    last_error_code TEXT NULL,
    last_error_message TEXT NULL,
    last_error_status INTEGER NULL,
    last_error_at TIMESTAMPTZ NULL,
    lease_owner TEXT NULL,
    lease_until TIMESTAMPTZ NULL
);

-- One row per (subscription, audit entry) that matched. No foreign keys: a key check per inserted row would lock the
-- subscription row (FOR KEY SHARE) inside every governance change; rows of a deleted subscription are purged by the
-- worker. The primary key is also the delivery order: the head of a subscription is its lowest audit id above
-- delivered_through.
CREATE TABLE IF NOT EXISTS public.notification_deliveries (
    subscription_id UUID NOT NULL,
    audit_id BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at TIMESTAMPTZ NULL,
    last_status INTEGER NULL,
    last_error_code TEXT NULL,
    outcome TEXT NULL CHECK (outcome IN ('delivered', 'skipped')),
    finished_at TIMESTAMPTZ NULL,
    PRIMARY KEY (subscription_id, audit_id)
);

-- The outbox: one statement trigger per INSERT into the audit log (a group commit of many entries is one INSERT),
-- reading the new rows from its transition table, so the deliveries are written in the audit transaction itself and
-- commit or roll back with it. Audit ids are assigned under the chain lock held to commit, so deliveries become
-- visible in audit id order too. Without enabled subscriptions the join is empty: nothing is written and nothing is
-- notified. The worker LISTENs on valhalla_notifications; a poll covers a missed notification.
-- The notification names the subscriptions that got deliveries (comma-separated ids), so a worker can skip a look
-- when each of them is waiting out a backoff or already being delivered by it; an empty payload (too many to name,
-- or a subscription write) means "look".
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

CREATE OR REPLACE TRIGGER governance_audit_log_notification_outbox
    AFTER INSERT ON public.governance_audit_log
    REFERENCING NEW TABLE AS notification_new_audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION public.notification_outbox_enqueue();
