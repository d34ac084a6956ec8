SELECT 'api_sessions exists' AS check_name, to_regclass('public.api_sessions') IS NOT NULL AS ok
UNION ALL
SELECT 'change_requests exists', to_regclass('public.change_requests') IS NOT NULL
UNION ALL
SELECT 'change_request_approvals exists', to_regclass('public.change_request_approvals') IS NOT NULL;
