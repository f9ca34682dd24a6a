-- Privileges for the score engine (300_scores.sql).
GRANT EXECUTE ON FUNCTION etop.etop_scores(integer, date), etop.scores_all(date),
                          etop.standards_score(integer, date), etop.risk_score(integer, date),
                          etop.experience_score(integer, date), etop.quarter_label(date)
      TO etop_admin, etop_am, etop_reader;
GRANT EXECUTE ON FUNCTION etop.snapshot_scores(date) TO etop_admin;
GRANT SELECT ON etop.client_scores, etop.score_components TO etop_admin, etop_am, etop_reader;
-- (No REVOKE ... FROM PUBLIC here: 900_security.sql revoked every function from PUBLIC.)
