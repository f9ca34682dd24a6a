-- Privileges for the QBR pipeline (400_citations.sql, ...).
GRANT EXECUTE ON FUNCTION etop.validate_citations(jsonb, integer) TO etop_admin, etop_am, etop_reader;
GRANT EXECUTE ON FUNCTION etop.narrative_input(integer, date), etop.narrative_offline(jsonb),
                          etop_internal.level_rank(text) TO etop_admin, etop_am, etop_reader;
-- Queue internals: for etop_admin (and the workers, which run as the bootstrap superuser).
GRANT EXECUTE ON FUNCTION etop_internal.job_claim(interval), etop_internal._pid_alive(integer), etop_internal.job_progress(uuid, integer),
                          etop_internal.job_fail(uuid, text, boolean, boolean), etop_internal.qbr_step(uuid, integer),
                          etop_internal.job_store_narrative(uuid, jsonb, jsonb), etop_internal.qbr_run_job(uuid)
      TO etop_admin;
-- Reviews: account managers (RLS limits them to their clients) and admins.
GRANT EXECUTE ON FUNCTION etop_internal.qbr_review(integer, text, text), etop.qbr_approve(integer, text),
                          etop.qbr_reject(integer, text), etop.qbr_pdf(integer)
      TO etop_admin, etop_am;
GRANT EXECUTE ON FUNCTION etop.qbr_pdf(integer) TO etop_reader;
GRANT UPDATE (status, review_note) ON etop.qbrs TO etop_am;
CREATE POLICY am_review ON etop.qbrs FOR UPDATE TO etop_am
    USING (client_id IN (SELECT etop.assigned_client_ids()))
    WITH CHECK (client_id IN (SELECT etop.assigned_client_ids()));
-- (No REVOKE ... FROM PUBLIC here: 900_security.sql revoked every function from PUBLIC.)
