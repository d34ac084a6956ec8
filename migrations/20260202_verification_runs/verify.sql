SELECT 'verification_runs exists' AS check_name, to_regclass('public.verification_runs') IS NOT NULL AS ok
UNION ALL
SELECT 'verification_runs head index exists', to_regclass('public.verification_runs_head_latest_idx') IS NOT NULL;
