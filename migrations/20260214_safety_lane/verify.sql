SELECT 'governance_safety_watermarks exists' AS check_name, to_regclass('public.governance_safety_watermarks') IS NOT NULL AS ok;
