-- Creation time (ms since the epoch, the BullMQ job's timestamp) of the latest kill-switch engage or go-live disable
-- that was applied or found the state already safe. A release or enable created before it is superseded: the safety
-- lane lets an engage jump the queue, and an older release must not undo it afterwards. NULL: none since this column.
ALTER TABLE public.go_live_state ADD COLUMN IF NOT EXISTS safety_change_created_ms BIGINT NULL;
