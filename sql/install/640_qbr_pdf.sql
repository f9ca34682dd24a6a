-- QBR PDF rendering (src/qbr_pdf*.c).  The document format is described in
-- docs/qbr-document.md; tests/data/qbr_example.json is a complete example.
CREATE FUNCTION etop.qbr_render_doc(doc jsonb) RETURNS bytea
    AS 'MODULE_PATHNAME', 'etop_qbr_render_doc'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION etop.qbr_render_doc(jsonb) IS
    'Renders a QBR document (jsonb, see docs/qbr-document.md) as a 9-section PDF';
