-- The audit chain becomes keyed: the application computes hash = HMAC(key, canonical entry) with a key PostgreSQL
-- never sees, so someone who can write to the database but lacks AUDIT_HMAC_KEYS cannot rewrite entries and
-- recompute the chain. Rows written before this revision keep their unkeyed sha256 (still verifiable, and anchored:
-- the first keyed row's HMAC covers the last unkeyed hash). Rows written inside the database (the outside-write
-- trigger below) stay unkeyed (key_id NULL) and are anchored by the next keyed row.

-- 'change' entries replay to the state (outcome applied/unchanged/rejected); 'event' entries record everything else
-- (change requests, approvals, queue pauses, repairs, drift, writes made outside the product) and have no outcome.
ALTER TABLE public.governance_audit_log ADD COLUMN IF NOT EXISTS kind TEXT NOT NULL DEFAULT 'change';
ALTER TABLE public.governance_audit_log ADD COLUMN IF NOT EXISTS key_id TEXT NULL;
ALTER TABLE public.governance_audit_log ADD COLUMN IF NOT EXISTS details JSONB NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE public.governance_audit_log ALTER COLUMN outcome DROP NOT NULL;
ALTER TABLE public.governance_audit_log DROP CONSTRAINT IF EXISTS governance_audit_log_outcome_check;
ALTER TABLE public.governance_audit_log DROP CONSTRAINT IF EXISTS governance_audit_log_kind_outcome_check;
ALTER TABLE public.governance_audit_log ADD CONSTRAINT governance_audit_log_kind_outcome_check CHECK (
    (kind = 'change' AND outcome IN ('applied', 'unchanged', 'rejected'))
    OR (kind = 'event' AND outcome IS NULL));

-- The unkeyed hash of a row written inside the database: every column but the hash. Public on purpose (anyone can
-- recompute it), which is why only keyed rows anchor the chain.
CREATE OR REPLACE FUNCTION public.governance_audit_row_hash_v2(
    prev_hash TEXT, id BIGINT, kind TEXT, job_id TEXT, action TEXT, outcome TEXT, actor TEXT, reason TEXT,
    before JSONB, after JSONB, unmet_conditions TEXT[], request_id TEXT, created_at TIMESTAMPTZ, details JSONB
) RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(jsonb_build_array(
        'v2', prev_hash, id, kind, job_id, action, outcome, actor, reason, before, after, to_jsonb(unmet_conditions),
        request_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), details
    )::text, 'UTF8')), 'hex')
$$;

-- Takes the chain lock (held to the end of the transaction) and reads the newest row. VOLATILE, so under READ
-- COMMITTED the SELECT gets a snapshot taken after the lock is granted and sees every earlier appender's commit.
-- Every appender calls this before it computes ids and hashes. Also returns the newest key id (a change of signing
-- key is recorded as an event) and the transaction's time in the canonical text form the hash covers.
CREATE OR REPLACE FUNCTION public.governance_audit_chain_head()
RETURNS TABLE (head_id BIGINT, head_hash TEXT, head_key_id TEXT, now_text TEXT)
LANGUAGE plpgsql VOLATILE AS $$
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

-- Keyed rows (key_id set) arrive with id, prev_hash, created_at and hash computed by the application under the chain
-- lock: kept as given (verification checks them). Any other row is chained here with the unkeyed v2 hash.
CREATE OR REPLACE FUNCTION public.governance_audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head RECORD;
BEGIN
    IF NEW.key_id IS NOT NULL THEN
        IF NEW.id IS NULL OR NEW.hash IS NULL OR NEW.created_at IS NULL THEN
            RAISE EXCEPTION 'a keyed audit row needs id, created_at and hash' USING ERRCODE = 'not_null_violation';
        END IF;
        RETURN NEW;
    END IF;
    SELECT * INTO head FROM public.governance_audit_chain_head();
    NEW.id := COALESCE(head.head_id, 0) + 1;
    NEW.prev_hash := head.head_hash;
    NEW.created_at := COALESCE(NEW.created_at, now());
    NEW.hash := public.governance_audit_row_hash_v2(
        NEW.prev_hash, NEW.id, NEW.kind, NEW.job_id, NEW.action, NEW.outcome, NEW.actor, NEW.reason,
        NEW.before, NEW.after, NEW.unmet_conditions, NEW.request_id, NEW.created_at, NEW.details);
    RETURN NEW;
END
$$;

-- The product marks its own writes with the transaction-local setting valhalla.change = 'on' (set in the statement
-- that locks the rows). Any other UPDATE (the Python service, a psql session) is recorded as an event entry. This is
-- a record of honest outside writes, not a barrier: a session can set the flag itself. What cannot be undone without
-- the key is the record once a keyed row follows it.
CREATE OR REPLACE FUNCTION public.governance_record_outside_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('valhalla.change', true) IS NOT DISTINCT FROM 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.governance_audit_log
        (kind, job_id, action, outcome, actor, reason, before, after, unmet_conditions, request_id, details)
    VALUES (
        'event', NULL, 'outside_write', NULL, current_user,
        format('%s of %s.%s outside the product', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
        to_jsonb(OLD), to_jsonb(NEW), '{}', NULL,
        jsonb_build_object(
            'table', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
            'database_role', current_user,
            'session_role', session_user,
            'application_name', current_setting('application_name', true),
            'client_addr', host(inet_client_addr())));
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER go_live_state_outside_write
    AFTER UPDATE ON public.go_live_state
    FOR EACH ROW EXECUTE FUNCTION public.governance_record_outside_write();

CREATE OR REPLACE TRIGGER system_metadata_outside_write
    AFTER UPDATE ON public.system_metadata
    FOR EACH ROW EXECUTE FUNCTION public.governance_record_outside_write();

-- What a verification run saw: the head (id, hash) it verified up to, MAC'd with the signing key. The next run checks
-- the head is still there (deleted newest rows) and verifies only the rows after it (incremental).
CREATE TABLE IF NOT EXISTS public.governance_audit_checkpoints (
    id BIGSERIAL PRIMARY KEY,
    head_id BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    full_check BOOLEAN NOT NULL,
    key_id TEXT NOT NULL,
    mac TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE OR REPLACE TRIGGER governance_audit_checkpoints_no_update_delete
    BEFORE UPDATE OR DELETE ON public.governance_audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION public.governance_audit_log_reject_change();

CREATE OR REPLACE TRIGGER governance_audit_checkpoints_no_truncate
    BEFORE TRUNCATE ON public.governance_audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION public.governance_audit_log_reject_change();

-- The upgrade itself is on the record: rows before this event carry the v1 unkeyed hash, keyed rows follow it.
INSERT INTO public.governance_audit_log (kind, action, outcome, actor, reason, before, after, details)
SELECT 'event', 'audit.chain_keyed', NULL, current_user,
       'audit chain upgraded: new entries are signed with HMAC keys held by the application', '{}', '{}',
       jsonb_build_object('revision', '20260210_audit_chain_keyed')
WHERE NOT EXISTS (SELECT 1 FROM public.governance_audit_log WHERE kind = 'event' AND action = 'audit.chain_keyed');

-- Verification cross-checks each executed job's recorded audit id against the log (deleted or rewritten rows).
CREATE INDEX IF NOT EXISTS governance_executed_jobs_audit_id
    ON public.governance_executed_jobs (((result->>'auditId')::bigint));
