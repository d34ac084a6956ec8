-- Supersession watermarks: the creation time (ms since the epoch, the BullMQ job's timestamp) of the latest
-- kill-switch engage and of the latest go-live disable that was applied or found the state already safe. A release
-- created before the engage, or an enable created before the disable, is superseded: the safety lane lets an engage
-- jump the queue, and an older release must not undo it afterwards. No row (or NULL): none yet.
-- A table of its own rather than columns of go_live_state, whose columns are fixed by the origin report. Written only
-- by governance changes, under their lock of row 1 of go_live_state.
CREATE TABLE IF NOT EXISTS public.governance_safety_watermarks (
    id SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    engage_ms BIGINT NULL,
    disable_ms BIGINT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
