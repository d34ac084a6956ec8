-- The audit chain's head, witnessed outside the log. Before this revision the next id was the newest row's id + 1, so
-- deleting the newest rows (with the log's triggers off) left no trace: the next append reused their ids and linked to
-- the row before them. Now every statement that appends to the log also moves this one row forward, in the same
-- transaction, and appenders take the next id and previous hash from it:
-- - the newest rows deleted: the witness is ahead of the log (verification reports the missing range), and the next
--   append takes its id after the witness and links to the deleted row's hash, so the gap stays in the log for good;
-- - a row added with the triggers off: the log is ahead of the witness (reported).
-- A row of a table rather than a SEQUENCE: nextval is not transactional, so every rolled-back append (a retried
-- transaction, a conflict) would leave a gap that is not evidence of anything. This row is rolled back with its
-- append, so the ids stay gapless unless rows are deleted.
-- The row is made by the first append after this revision (no seed): a database that has appended nothing since has
-- nothing to witness yet, and a downgrade finds the table empty.
CREATE TABLE IF NOT EXISTS public.governance_audit_head (
    id SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    last_id BIGINT NOT NULL,
    last_hash TEXT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Forward only: an UPDATE may move the witness to a newer row (or leave it), never back or to another hash of the same
-- row; DELETE and TRUNCATE raise. Like the log's own triggers, a record of honest mistakes, not a barrier against a
-- superuser who switches triggers off.
CREATE OR REPLACE FUNCTION public.governance_audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.last_id > OLD.last_id
                             OR (NEW.last_id = OLD.last_id AND NEW.last_hash IS NOT DISTINCT FROM OLD.last_hash)) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'governance_audit_head only moves forward: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE TRIGGER governance_audit_head_forward_only
    BEFORE UPDATE OR DELETE ON public.governance_audit_head
    FOR EACH ROW EXECUTE FUNCTION public.governance_audit_head_forward_only();

CREATE OR REPLACE TRIGGER governance_audit_head_no_truncate
    BEFORE TRUNCATE ON public.governance_audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION public.governance_audit_head_forward_only();

-- Once per appending statement (keyed rows from the application, unkeyed rows from the outside-write trigger or a
-- migration): the witness moves to the newest row the statement appended. Appenders hold the chain lock, so no two
-- statements race here.
CREATE OR REPLACE FUNCTION public.governance_audit_head_advance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.governance_audit_head AS h (id, last_id, last_hash, updated_at)
    SELECT 1, n.id, n.hash, now() FROM (SELECT a.id, a.hash FROM appended a ORDER BY a.id DESC LIMIT 1) n
    ON CONFLICT (id) DO UPDATE SET last_id = EXCLUDED.last_id, last_hash = EXCLUDED.last_hash, updated_at = EXCLUDED.updated_at
    WHERE h.last_id < EXCLUDED.last_id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER governance_audit_head_advance
    AFTER INSERT ON public.governance_audit_log
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION public.governance_audit_head_advance();

-- The chain head every appender reads under the chain lock (the application through governance_change_context() or
-- its own statement, the unkeyed-row trigger per row): the witness when it is at or ahead of the log's newest row,
-- else that row (rows appended earlier in the same statement, which the witness sees only at the statement's end;
-- or no witness yet). On a tie the witness's hash wins: a rewritten newest row does not become the link.
-- Same signature and result as before: code that predates this revision appends after the witness too.
CREATE OR REPLACE FUNCTION public.governance_audit_chain_head()
RETURNS TABLE (head_id BIGINT, head_hash TEXT, head_key_id TEXT, now_text TEXT)
LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('public.governance_audit_log chain'));
    RETURN QUERY
    SELECT CASE WHEN w.last_id IS NOT NULL AND w.last_id >= COALESCE(t.id, 0) THEN w.last_id ELSE t.id END,
           CASE WHEN w.last_id IS NOT NULL AND w.last_id >= COALESCE(t.id, 0) THEN w.last_hash ELSE t.hash END,
           (SELECT k.key_id FROM public.governance_audit_log k WHERE k.key_id IS NOT NULL ORDER BY k.id DESC LIMIT 1),
           to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    FROM (SELECT NULL::int AS dummy) d
    LEFT JOIN LATERAL (SELECT a.id, a.hash FROM public.governance_audit_log a ORDER BY a.id DESC LIMIT 1) t ON TRUE
    LEFT JOIN public.governance_audit_head w ON w.id = 1;
END
$$;
