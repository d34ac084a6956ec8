-- Nothing to revert: the root revision creates no objects.
SELECT 1;
