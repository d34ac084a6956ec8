DROP TABLE IF EXISTS public.change_request_approvals;
DROP TABLE IF EXISTS public.change_requests;
DROP TABLE IF EXISTS public.api_sessions;
