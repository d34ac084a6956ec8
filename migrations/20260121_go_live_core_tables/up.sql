-- DDL verbatim from the database hardening report (2026-01-21). IF NOT EXISTS keeps tables that the Python service
-- already created, with their rows; the seeds never overwrite an existing row 1.
CREATE TABLE IF NOT EXISTS public.system_metadata (
    id INTEGER PRIMARY KEY,
    version TEXT NOT NULL DEFAULT '1.0.0',
    backend_complete BOOLEAN NOT NULL DEFAULT FALSE,
    notes TEXT NULL,
    updated_at TIMESTAMP NULL,
    completed_at TIMESTAMP NULL
);

CREATE TABLE IF NOT EXISTS public.go_live_state (
    id INTEGER PRIMARY KEY,
    go_live_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    kill_switch_engaged BOOLEAN NOT NULL DEFAULT TRUE,
    changed_by TEXT NULL,
    reason TEXT NULL,
    updated_at TIMESTAMP NULL
);

-- Row 1 guaranteed to exist after migration
INSERT INTO public.system_metadata (id, version, backend_complete)
VALUES (1, '1.0.0', FALSE)
ON CONFLICT (id) DO NOTHING;

INSERT INTO public.go_live_state (id, go_live_enabled, kill_switch_engaged)
VALUES (1, FALSE, TRUE)
ON CONFLICT (id) DO NOTHING;
