-- Row-level security: an account manager sees only the clients assigned to it,
-- in every client-owned table and in the views.
SELECT etop.demo_seed(6, 1, '2026-01-15') IS NOT NULL AS seeded;

CREATE ROLE etop_test_alice IN ROLE etop_am;
CREATE ROLE etop_test_bob IN ROLE etop_am;
CREATE ROLE etop_test_east_team IN ROLE etop_am;   -- a group role clients can be assigned to
CREATE ROLE etop_test_carol IN ROLE etop_test_east_team;
CREATE ROLE etop_test_bi IN ROLE etop_reader;

INSERT INTO etop.client_assignments (client_id, am_role)
SELECT id, CASE WHEN external_id IN ('DEMO-00001', 'DEMO-00002') THEN 'etop_test_alice'
                WHEN external_id = 'DEMO-00003' THEN 'etop_test_bob'
                ELSE 'etop_test_east_team' END
  FROM etop.clients WHERE external_id <> 'DEMO-00006';
-- an assignment to a role that does not exist (yet) matches nobody
INSERT INTO etop.client_assignments (client_id, am_role)
SELECT id, 'etop_test_departed' FROM etop.clients WHERE external_id = 'DEMO-00006';

-- The same queries as each role: clients and row counts in every client-owned table.
CREATE FUNCTION pg_temp.visible() RETURNS TABLE (tbl text, clients text, rows_seen bigint)
LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'contacts', 'users', 'devices', 'agreements', 'tickets',
                             'controls', 'risks', 'recommendations'] LOOP
        RETURN QUERY EXECUTE format(
            'SELECT %L, string_agg(DISTINCT c.external_id, '','' ORDER BY c.external_id)::text, count(*)
               FROM etop.%I x JOIN etop.clients c ON c.id = x.client_id', t, t);
    END LOOP;
    RETURN QUERY SELECT 'clients', string_agg(external_id, ',' ORDER BY external_id)::text, count(*)
                   FROM etop.clients;
    RETURN QUERY SELECT 'client_overview', string_agg(c.external_id, ',' ORDER BY c.external_id)::text, count(*)
                   FROM etop.client_overview o JOIN etop.clients c USING (name);
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.visible() TO etop_am, etop_reader;

SELECT id AS bob_client FROM etop.clients WHERE external_id = 'DEMO-00003' \gset
SET ROLE etop_test_alice;
SELECT tbl, clients FROM pg_temp.visible();
-- alice cannot reach bob's client even by id
SELECT count(*) AS bobs_tickets FROM etop.tickets t JOIN etop.clients c ON c.id = t.client_id
 WHERE c.external_id = 'DEMO-00003';
SELECT count(*) AS bobs_tickets_by_id FROM etop.tickets WHERE client_id = :bob_client;
SELECT count(*) AS bobs_client_by_id FROM etop.client_overview WHERE client_id = :bob_client;
-- and writes nothing directly
UPDATE etop.clients SET name = 'hijacked';
INSERT INTO etop.client_assignments (client_id, am_role) VALUES (1, 'etop_test_alice');
SELECT am_role, count(*) FROM etop.client_assignments GROUP BY 1 ORDER BY 1;
-- nor the sync internals, which hold every client's raw vendor records
SELECT count(*) FROM etop.sync_pages;
SELECT count(*) FROM etop.sync_runs;
RESET ROLE;

SET ROLE etop_test_bob;
SELECT tbl, clients FROM pg_temp.visible();
RESET ROLE;

-- carol sees what is assigned to her team
SET ROLE etop_test_carol;
SELECT tbl, clients FROM pg_temp.visible() WHERE tbl IN ('clients', 'devices', 'client_overview');
RESET ROLE;

-- a BI reader sees everything, including the unassigned client
SET ROLE etop_test_bi;
SELECT tbl, clients FROM pg_temp.visible() WHERE tbl IN ('clients', 'tickets', 'client_overview');
RESET ROLE;

-- every client-owned table has an admin, a reader and an account-manager policy (plus the review and enqueue policies)
SELECT count(*) AS rls_policies FROM pg_policies WHERE schemaname = 'etop';

DELETE FROM etop.client_assignments;
DROP ROLE etop_test_alice, etop_test_bob, etop_test_carol, etop_test_east_team, etop_test_bi;
