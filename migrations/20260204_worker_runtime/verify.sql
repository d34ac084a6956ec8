SELECT 'worker_heartbeats exists' AS check_name, to_regclass('public.worker_heartbeats') IS NOT NULL AS ok;
