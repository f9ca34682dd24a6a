-- Privileges for the QBR pipeline (400_citations.sql, ...).
REVOKE ALL ON FUNCTION etop.validate_citations(jsonb, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION etop.validate_citations(jsonb, integer) TO etop_admin, etop_am, etop_reader;
