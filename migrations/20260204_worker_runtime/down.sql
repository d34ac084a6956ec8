DROP TABLE IF EXISTS public.worker_heartbeats;
