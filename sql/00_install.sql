-- Installing, dropping and re-installing etop is clean.
CREATE EXTENSION etop;
DROP EXTENSION etop;
-- nothing of etop is left behind (roles are cluster-wide and stay, by design)
SELECT count(*) AS etop_schemas FROM pg_namespace WHERE nspname IN ('etop', 'etop_internal');
SELECT count(*) AS etop_objects FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'etop';
SELECT count(*) AS entry_points FROM pg_proc WHERE proname = 'etop_scores';
-- CREATE EXTENSION etop SCHEMA s: etop's objects stay in etop (everything is
-- written etop.<name>); s gets the unqualified entry point, and a WARNING says so
CREATE SCHEMA analytics;
CREATE EXTENSION etop SCHEMA analytics;
SELECT p.oid::regprocedure AS entry_point FROM pg_proc p WHERE p.proname = 'etop_scores' ORDER BY 1;
DROP EXTENSION etop;
SELECT count(*) AS left_in_analytics FROM pg_proc WHERE pronamespace = 'analytics'::regnamespace;
DROP SCHEMA analytics;
CREATE EXTENSION etop;
-- the design card's call works without a schema or a search_path change
SELECT p.oid::regprocedure AS entry_point, obj_description(p.oid, 'pg_proc') FROM pg_proc p
 WHERE p.proname = 'etop_scores' ORDER BY 1;
SELECT etop_scores(-1);
-- \df etop.* is etop's API: the internals (queue steps, triggers, sync and
-- demo plumbing) are in etop_internal, which PUBLIC cannot use
SELECT count(*) FILTER (WHERE n.nspname = 'etop') AS api_functions,
       count(*) FILTER (WHERE n.nspname = 'etop_internal') AS internal_functions,
       count(*) FILTER (WHERE n.nspname = 'etop' AND (p.proname LIKE '\_%' OR p.proname ~ '^(job_|cw_|demo_load|qbrs_|row_is|require_)'))
           AS internals_in_api
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('etop', 'etop_internal');
SELECT count(*) AS public_may_execute FROM pg_proc p
 WHERE p.pronamespace IN ('etop'::regnamespace, 'etop_internal'::regnamespace)
   AND has_function_privilege('public', p.oid, 'EXECUTE');
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
