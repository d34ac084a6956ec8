-- Root revision. In the Python service this was an Alembic merge point with no DDL; it stays empty so that the
-- chain keeps the origin's revision ids.
SELECT 1;
