SELECT 'governance_change_context exists' AS check_name,
       to_regprocedure('public.governance_change_context(text[], text)') IS NOT NULL AS ok;
