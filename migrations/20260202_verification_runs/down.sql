DROP TABLE IF EXISTS public.verification_runs;
