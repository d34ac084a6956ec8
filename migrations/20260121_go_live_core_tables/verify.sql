-- The two tables exist with exactly the report's columns (name, type, default, nullability) and primary key, and
-- row 1 of each is present.
WITH expected(table_name, column_name, data_type, column_default, is_nullable) AS (
  VALUES
    ('system_metadata', 'id', 'integer', NULL, 'NO'),
    ('system_metadata', 'version', 'text', '''1.0.0''::text', 'NO'),
    ('system_metadata', 'backend_complete', 'boolean', 'false', 'NO'),
    ('system_metadata', 'notes', 'text', NULL, 'YES'),
    ('system_metadata', 'updated_at', 'timestamp without time zone', NULL, 'YES'),
    ('system_metadata', 'completed_at', 'timestamp without time zone', NULL, 'YES'),
    ('go_live_state', 'id', 'integer', NULL, 'NO'),
    ('go_live_state', 'go_live_enabled', 'boolean', 'false', 'NO'),
    ('go_live_state', 'kill_switch_engaged', 'boolean', 'true', 'NO'),
    ('go_live_state', 'changed_by', 'text', NULL, 'YES'),
    ('go_live_state', 'reason', 'text', NULL, 'YES'),
    ('go_live_state', 'updated_at', 'timestamp without time zone', NULL, 'YES')
),
actual AS (
  SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.column_default::text, c.is_nullable::text
  FROM information_schema.columns c
  WHERE c.table_schema = 'public' AND c.table_name IN ('system_metadata', 'go_live_state')
)
SELECT 'system_metadata and go_live_state columns match the report' AS check_name,
       NOT EXISTS (
         (SELECT * FROM expected EXCEPT SELECT * FROM actual)
         UNION ALL
         (SELECT * FROM actual EXCEPT SELECT * FROM expected)
       ) AS ok
UNION ALL
SELECT 'system_metadata primary key is (id)',
       EXISTS (
         SELECT 1 FROM pg_index i
         WHERE i.indrelid = to_regclass('public.system_metadata') AND i.indisprimary
           AND i.indkey::text = (SELECT attnum::text FROM pg_attribute
                                 WHERE attrelid = to_regclass('public.system_metadata') AND attname = 'id')
       )
UNION ALL
SELECT 'go_live_state primary key is (id)',
       EXISTS (
         SELECT 1 FROM pg_index i
         WHERE i.indrelid = to_regclass('public.go_live_state') AND i.indisprimary
           AND i.indkey::text = (SELECT attnum::text FROM pg_attribute
                                 WHERE attrelid = to_regclass('public.go_live_state') AND attname = 'id')
       )
UNION ALL
-- A missing table makes these two fail with an error, which the runner reports as the revision's verify error.
SELECT 'system_metadata row 1 exists', EXISTS (SELECT 1 FROM public.system_metadata WHERE id = 1)
UNION ALL
SELECT 'go_live_state row 1 exists', EXISTS (SELECT 1 FROM public.go_live_state WHERE id = 1);
