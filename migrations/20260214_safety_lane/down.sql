ALTER TABLE public.go_live_state DROP COLUMN IF EXISTS safety_change_created_ms;
