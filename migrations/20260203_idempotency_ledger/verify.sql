SELECT 'idempotency_keys exists' AS check_name, to_regclass('public.idempotency_keys') IS NOT NULL AS ok;
