-- Grants for QBR PDF rendering.  etop.qbr_render_doc() reads nothing but its
-- argument, so every etop role may render documents it already holds.
GRANT EXECUTE ON FUNCTION etop.qbr_render_doc(jsonb) TO etop_admin, etop_am, etop_reader;
GRANT EXECUTE ON FUNCTION etop.qbr_document(integer, jsonb, date, boolean), etop.qbr_render(integer, jsonb, date),
                          etop_internal.json_texts(jsonb), etop_internal.narrative_for_document(jsonb)
      TO etop_admin, etop_am, etop_reader;
-- (No REVOKE ... FROM PUBLIC here: 900_security.sql revoked every function from PUBLIC.)
