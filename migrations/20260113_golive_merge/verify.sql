SELECT 'root revision has nothing to verify' AS check_name, TRUE AS ok;
