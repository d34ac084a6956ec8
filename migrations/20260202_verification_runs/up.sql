CREATE TABLE IF NOT EXISTS public.verification_runs (
    id BIGSERIAL PRIMARY KEY,
    job_id TEXT NULL UNIQUE,
    release TEXT NOT NULL,
    migration_head TEXT NOT NULL,
    actor TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    passed BOOLEAN NOT NULL,
    checks JSONB NOT NULL
);

-- go-live enable asks for the latest run of the current head.
CREATE INDEX IF NOT EXISTS verification_runs_head_latest_idx
    ON public.verification_runs (migration_head, id DESC);
