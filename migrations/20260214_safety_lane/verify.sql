SELECT 'go_live_state.safety_change_created_ms exists' AS check_name,
       EXISTS (
           SELECT 1 FROM information_schema.columns
           WHERE table_schema = 'public' AND table_name = 'go_live_state' AND column_name = 'safety_change_created_ms'
       ) AS ok;
