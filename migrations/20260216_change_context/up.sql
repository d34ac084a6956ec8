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
LANGUAGE plpgsql VOLATILE AS $$
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
