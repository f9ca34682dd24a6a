
-- The entry point the design card writes without a schema: SELECT etop_scores(42)
-- works in a default database without anyone changing search_path.  Everything
-- etop has lives in schema etop (its API) and etop_internal (its internals);
-- the extension's own schema -- CREATE EXTENSION etop [SCHEMA s], by default
-- the first schema of search_path, normally public -- gets only this entry
-- point: the same C function as etop.etop_scores, so the two cannot drift.
-- Not CREATE OR REPLACE: a function of the same name that a user already has
-- there makes CREATE EXTENSION fail instead of being taken over.
DO $entry$
BEGIN
    IF '@extschema@' = 'etop' THEN
        RETURN;                 -- etop.etop_scores is already there
    END IF;
    IF '@extschema@' <> 'public' THEN
        RAISE WARNING 'etop keeps its tables and functions in schema "etop"; schema "%" gets only the entry point etop_scores()', '@extschema@'
            USING HINT = 'Call etop''s other functions as etop.<name>, or add etop to search_path.';
    END IF;
    EXECUTE format($f$
        CREATE FUNCTION %I.etop_scores(client_id integer, as_of date DEFAULT current_date)
        RETURNS jsonb
        AS 'MODULE_PATHNAME', 'etop_scores_one'
        LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
        SET jit = off$f$, '@extschema@');
    EXECUTE format($f$COMMENT ON FUNCTION %I.etop_scores(integer, date) IS
        'etop: the same as etop.etop_scores (Standards, Risk and Experience scores of one client at as_of)'$f$, '@extschema@');
    EXECUTE format('REVOKE ALL ON FUNCTION %I.etop_scores(integer, date) FROM PUBLIC', '@extschema@');
    EXECUTE format('GRANT EXECUTE ON FUNCTION %I.etop_scores(integer, date) TO etop_admin, etop_am, etop_reader', '@extschema@');
END
$entry$;
