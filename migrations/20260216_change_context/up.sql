-- What a batch of governance changes decides on, in one round trip. Two statements inside one function: the first
-- locks row 1 of go_live_state and system_metadata (every governance writer's first step, so changes and the audit
-- chain are serialised), the second reads with a snapshot taken after the lock was granted. A VOLATILE function
-- takes a new snapshot for each statement under READ COMMITTED, so the second statement sees every commit that
-- the lock waited for: the state rows, the supersession watermarks (written by other writers under this same lock,
-- often without changing row 1, so a read in the locking statement would see the value from before the wait), the
-- executed-job records of the batch's members (a concurrent delivery of the same job) and the audit chain head
-- (read under the chain lock by governance_audit_chain_head()).
-- The rows come back as jsonb: their column types are those of the adopted tables, whichever the Python service
-- created (text or varchar, timestamp with or without time zone).
-- p_keys: the executed-job keys to look up; p_migration_head: the head whose latest verification counts.
CREATE OR REPLACE FUNCTION public.governance_change_context(p_keys TEXT[], p_migration_head TEXT)
RETURNS TABLE (
    go_live JSONB,
    metadata JSONB,
    engage_ms BIGINT,
    disable_ms BIGINT,
    executed JSONB,
    verification_passed BOOLEAN,
    head_id BIGINT,
    head_hash TEXT,
    head_key_id TEXT,
    now_text TEXT
)
LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $$
BEGIN
    -- Under REPEATABLE READ or SERIALIZABLE the second statement would reuse the transaction's first snapshot.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'governance_change_context needs READ COMMITTED, not %', current_setting('transaction_isolation')
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    -- The product's own writes are marked, so the outside-write triggers record only writes made by something else.
    PERFORM set_config('valhalla.change', 'on', true);
    PERFORM 1 FROM public.go_live_state g, public.system_metadata m WHERE g.id = 1 AND m.id = 1 FOR UPDATE OF g, m;
    RETURN QUERY
    SELECT to_jsonb(g), to_jsonb(m), w.engage_ms, w.disable_ms,
           (SELECT coalesce(jsonb_object_agg(e.job_id, e.result), '{}'::jsonb)
            FROM public.governance_executed_jobs e WHERE e.job_id = ANY(p_keys)),
           -- A check that could not measure (inconclusive, or the older 'error') proves nothing: the run does not count.
           (SELECT r.passed AND NOT r.checks @> '[{"status": "inconclusive"}]'::jsonb
                   AND NOT r.checks @> '[{"status": "error"}]'::jsonb
            FROM public.verification_runs r WHERE r.migration_head = p_migration_head
            ORDER BY r.id DESC LIMIT 1),
           h.head_id, h.head_hash, h.head_key_id, h.now_text
    FROM public.go_live_state g
    CROSS JOIN public.system_metadata m
    LEFT JOIN public.governance_safety_watermarks w ON w.id = 1
    CROSS JOIN public.governance_audit_chain_head() h
    WHERE g.id = 1 AND m.id = 1;
END
$$;

-- Plans of the statements inside PL/pgSQL functions are kept for the session (the pools no longer discard them when a
-- connection is returned). A plan made while a table was nearly empty would then stay a sequential scan after the
-- table grew, until autovacuum analyzes it: a burst of changes on a new deployment made every later change scan the
-- whole audit log in the chain-head and live-state lookups (measured: 9 ms instead of 3 per change after 10,000
-- changes). These functions only look rows up by index, so they are planned without sequential scans
-- (enable_seqscan = off for their own statements), whatever the statistics say.
ALTER FUNCTION public.governance_audit_chain_head() SET enable_seqscan = off;

-- The same query as in 20260212_live_state_notify, in PL/pgSQL: a LANGUAGE sql function called from the notification
-- trigger is planned again on every call, while PL/pgSQL keeps its plan for the session.
CREATE OR REPLACE FUNCTION public.governance_live_version() RETURNS BIGINT LANGUAGE plpgsql STABLE
SET enable_seqscan = off AS $$
BEGIN
    RETURN COALESCE((
        SELECT a.id FROM public.governance_audit_log a
        WHERE a.kind = 'change' AND a.outcome = 'applied'
        ORDER BY a.id DESC LIMIT 1), 0);
END
$$;

-- The same body as in 20260212_live_state_notify, in PL/pgSQL, for the same reason: the notification trigger runs it
-- in every commit that changes the state (about 0.35 ms of each such commit on the reference machine).
CREATE OR REPLACE FUNCTION public.governance_live_state() RETURNS JSONB LANGUAGE plpgsql STABLE
SET enable_seqscan = off AS $$
BEGIN
    RETURN (WITH v AS (SELECT public.governance_live_version() AS version),
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
    FROM body b);
END
$$;

-- governance_live_version() looks for the newest applied change entry, walking back from the newest row: past every
-- rejected change and event since. This index makes it one lookup however many rejections came after.
CREATE INDEX IF NOT EXISTS governance_audit_log_applied_changes
    ON public.governance_audit_log (id) WHERE kind = 'change' AND outcome = 'applied';
