DROP TABLE IF EXISTS public.idempotency_keys;
