-- The version of the live state: the audit id of the newest applied change entry (event entries do not count). The
-- one place this query lives: governance_live_state() below (so the notify trigger) and readStateVersion() call it.
CREATE OR REPLACE FUNCTION public.governance_live_version() RETURNS BIGINT LANGUAGE sql STABLE AS $$
    SELECT COALESCE((
        SELECT a.id FROM public.governance_audit_log a
        WHERE a.kind = 'change' AND a.outcome = 'applied'
        ORDER BY a.id DESC LIMIT 1), 0)
$$;

-- The body of GET /api/governance/live, plus `etag`: the version, or the version and a hash of the state when the
-- rows no longer match what that version's change entry wrote (a write made outside the product), so that a client
-- holding the old ETag is not answered 304 for a state it has not seen.
CREATE OR REPLACE FUNCTION public.governance_live_state() RETURNS JSONB LANGUAGE sql STABLE AS $$
    WITH v AS (SELECT public.governance_live_version() AS version),
    expected AS (
        SELECT COALESCE(
            (SELECT a.after FROM public.governance_audit_log a, v WHERE a.id = v.version),
            '{"go_live_enabled": false, "kill_switch_engaged": true, "backend_complete": false}'::jsonb
        ) AS after
    ),
    body AS (
        SELECT g.go_live_enabled AND NOT g.kill_switch_engaged AS live,
               g.go_live_enabled, g.kill_switch_engaged, m.backend_complete, v.version,
               g.changed_by, g.reason,
               to_char(GREATEST(g.updated_at, m.updated_at), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at,
               (e.after->>'go_live_enabled')::boolean IS NOT DISTINCT FROM g.go_live_enabled
                 AND (e.after->>'kill_switch_engaged')::boolean IS NOT DISTINCT FROM g.kill_switch_engaged
                 AND (e.after->>'backend_complete')::boolean IS NOT DISTINCT FROM m.backend_complete AS matches
        FROM public.go_live_state g, public.system_metadata m, v, expected e
        WHERE g.id = 1 AND m.id = 1
    )
    SELECT jsonb_build_object(
        'live', b.live, 'go_live_enabled', b.go_live_enabled, 'kill_switch_engaged', b.kill_switch_engaged,
        'backend_complete', b.backend_complete, 'version', b.version, 'changed_by', b.changed_by,
        'reason', b.reason, 'updated_at', b.updated_at,
        'etag', CASE WHEN b.matches THEN b.version::text
                     ELSE b.version::text || '-' || left(md5(jsonb_build_array(b.live, b.go_live_enabled,
                          b.kill_switch_engaged, b.backend_complete, b.changed_by, b.reason, b.updated_at)::text), 8) END)
    FROM body b
$$;

-- Sends the committed state to every listening api. A deferred constraint trigger runs at commit, after every
-- statement of the transaction (the audit entry included), so the payload is the state the commit leaves; every row
-- change of one transaction sends the same payload, and PostgreSQL folds identical notifications of one
-- transaction into one: a group commit of several changes is one notification. NOTIFY is delivered only after the
-- commit, and not at all on rollback. A payload near the 8000-byte limit (a very long reason written outside the
-- product) is replaced by an empty one, which tells the listener to read the state itself.
CREATE OR REPLACE FUNCTION public.governance_live_state_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload TEXT;
BEGIN
    payload := COALESCE(public.governance_live_state()::text, '');
    IF octet_length(payload) > 7000 THEN
        payload := '';
    END IF;
    PERFORM pg_notify('valhalla_live_state', payload);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION public.governance_live_state_notify_reread() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('valhalla_live_state', '');
    RETURN NULL;
END
$$;

-- Only rows that really changed: the change statement's UPDATE … WHERE id = 1 AND false touches nothing.
DROP TRIGGER IF EXISTS go_live_state_notify_update ON public.go_live_state;
CREATE CONSTRAINT TRIGGER go_live_state_notify_update
    AFTER UPDATE ON public.go_live_state DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION public.governance_live_state_notify();
DROP TRIGGER IF EXISTS go_live_state_notify_insert_delete ON public.go_live_state;
CREATE CONSTRAINT TRIGGER go_live_state_notify_insert_delete
    AFTER INSERT OR DELETE ON public.go_live_state DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION public.governance_live_state_notify();
DROP TRIGGER IF EXISTS system_metadata_notify_update ON public.system_metadata;
CREATE CONSTRAINT TRIGGER system_metadata_notify_update
    AFTER UPDATE ON public.system_metadata DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION public.governance_live_state_notify();
DROP TRIGGER IF EXISTS system_metadata_notify_insert_delete ON public.system_metadata;
CREATE CONSTRAINT TRIGGER system_metadata_notify_insert_delete
    AFTER INSERT OR DELETE ON public.system_metadata DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION public.governance_live_state_notify();
-- Constraint triggers cannot fire on TRUNCATE: a plain statement trigger asks the listeners to read the state.
CREATE OR REPLACE TRIGGER go_live_state_notify_truncate
    AFTER TRUNCATE ON public.go_live_state FOR EACH STATEMENT EXECUTE FUNCTION public.governance_live_state_notify_reread();
CREATE OR REPLACE TRIGGER system_metadata_notify_truncate
    AFTER TRUNCATE ON public.system_metadata FOR EACH STATEMENT EXECUTE FUNCTION public.governance_live_state_notify_reread();
