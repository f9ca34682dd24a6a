-- Installing, dropping and re-installing etop is clean.
CREATE EXTENSION etop;
DROP EXTENSION etop;
-- nothing of etop is left behind (roles are cluster-wide and stay, by design)
SELECT count(*) AS etop_schemas FROM pg_namespace WHERE nspname = 'etop';
SELECT count(*) AS etop_objects FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'etop';
CREATE EXTENSION etop;
-- a second CREATE says what is wrong
CREATE EXTENSION etop;
SELECT extversion FROM pg_extension WHERE extname = 'etop';
SELECT jsonb_object_keys(etop.build_info()) AS build_info_keys ORDER BY 1;
-- the tables etop owns, each documented
SELECT c.relname, obj_description(c.oid, 'pg_class') IS NOT NULL AS documented,
       c.relrowsecurity AS rls
  FROM pg_class c
 WHERE c.relnamespace = 'etop'::regnamespace AND c.relkind = 'r'
 ORDER BY 1;
-- every table is dumped with its data by pg_dump
SELECT count(*) AS tables, count(*) FILTER (WHERE c.oid = ANY (e.extconfig)) AS dumped
  FROM pg_class c, pg_extension e
 WHERE c.relnamespace = 'etop'::regnamespace AND c.relkind = 'r' AND e.extname = 'etop';
