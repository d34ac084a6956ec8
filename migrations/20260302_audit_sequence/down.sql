DROP TRIGGER IF EXISTS governance_audit_head_advance ON public.governance_audit_log;
DROP FUNCTION IF EXISTS public.governance_audit_head_advance();
DROP TABLE IF EXISTS public.governance_audit_head;
DROP FUNCTION IF EXISTS public.governance_audit_head_forward_only();
-- Back to the definition of 20260210_audit_chain_keyed, with the planner setting of 20260216_change_context.
CREATE OR REPLACE FUNCTION public.governance_audit_chain_head()
RETURNS TABLE (head_id BIGINT, head_hash TEXT, head_key_id TEXT, now_text TEXT)
LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('public.governance_audit_log chain'));
    RETURN QUERY
    SELECT last_row.id, last_row.hash,
           (SELECT k.key_id FROM public.governance_audit_log k WHERE k.key_id IS NOT NULL ORDER BY k.id DESC LIMIT 1),
           to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    FROM (SELECT NULL::int AS dummy) d
    LEFT JOIN LATERAL (SELECT a.id, a.hash FROM public.governance_audit_log a ORDER BY a.id DESC LIMIT 1) last_row ON TRUE;
END
$$;
