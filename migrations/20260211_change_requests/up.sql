-- Browser sessions of the console and the queue dashboard. The cookie holds a random secret; only its SHA-256 is
-- stored, so a database reader cannot sign in. token_digest ties the session to the credential it was made from:
-- removing that token from the environment ends its sessions.
CREATE TABLE IF NOT EXISTS public.api_sessions (
    id_hash TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('operator', 'reader', 'app', 'alerts')),
    token_digest TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS api_sessions_expires_at ON public.api_sessions (expires_at);

-- Four-eyes change requests: a go_live.enable or kill_switch.release that waits for N distinct operators.
-- state_version is the state's version (audit id of the newest applied change) when the request was made: a
-- different version at approval time makes the request stale.
CREATE TABLE IF NOT EXISTS public.change_requests (
    id TEXT PRIMARY KEY,
    action TEXT NOT NULL CHECK (action IN ('go_live.enable', 'kill_switch.release')),
    requested_by TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    required INTEGER NOT NULL CHECK (required >= 2),
    state_version BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending_approval', 'enqueued', 'rejected', 'cancelled', 'expired', 'stale')),
    job_id TEXT,
    request_id TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    closed_by TEXT,
    close_reason TEXT
);
CREATE INDEX IF NOT EXISTS change_requests_status ON public.change_requests (status, created_at DESC);
CREATE UNIQUE INDEX IF NOT EXISTS change_requests_job_id ON public.change_requests (job_id) WHERE job_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS public.change_request_approvals (
    change_request_id TEXT NOT NULL REFERENCES public.change_requests (id),
    approver TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    approved_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (change_request_id, approver)
);
