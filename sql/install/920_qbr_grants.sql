-- Privileges for the QBR pipeline (400_citations.sql, ...).
REVOKE ALL ON FUNCTION etop.validate_citations(jsonb, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION etop.validate_citations(jsonb, integer) TO etop_admin, etop_am, etop_reader;
REVOKE ALL ON FUNCTION etop.narrative_input(integer, date), etop.narrative_offline(jsonb),
                       etop.level_rank(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION etop.narrative_input(integer, date), etop.narrative_offline(jsonb),
                          etop.level_rank(text) TO etop_admin, etop_am, etop_reader;
