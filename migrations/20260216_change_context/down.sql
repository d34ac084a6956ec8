DROP FUNCTION IF EXISTS public.governance_change_context(TEXT[], TEXT);
