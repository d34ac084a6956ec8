DROP FUNCTION IF EXISTS public.governance_change_context(TEXT[], TEXT);
DROP INDEX IF EXISTS public.governance_audit_log_applied_changes;
ALTER FUNCTION public.governance_audit_chain_head() RESET enable_seqscan;
-- Back to the definitions of 20260212_live_state_notify (the same results, as LANGUAGE sql).
CREATE OR REPLACE FUNCTION public.governance_live_version() RETURNS BIGINT LANGUAGE sql STABLE AS $$
    SELECT COALESCE((
        SELECT a.id FROM public.governance_audit_log a
        WHERE a.kind = 'change' AND a.outcome = 'applied'
        ORDER BY a.id DESC LIMIT 1), 0)
$$;
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
