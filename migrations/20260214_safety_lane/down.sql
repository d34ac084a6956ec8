DROP TABLE IF EXISTS public.governance_safety_watermarks;
