DROP TABLE IF EXISTS public.go_live_state;
DROP TABLE IF EXISTS public.system_metadata;
