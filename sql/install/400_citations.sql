-- Citation checking (src/citations.c, src/citations_sql.c; docs/qbr.md).
CREATE FUNCTION etop.validate_citations(narrative jsonb, client_id integer)
RETURNS TABLE (citation text, kind text, reference text, path text, message text)
AS 'MODULE_PATHNAME', 'etop_validate_citations'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION etop.validate_citations(jsonb, integer) IS
    'Citations in a narrative that do not name a row of that client, and recommendations without evidence (empty when clean)';
