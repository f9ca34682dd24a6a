-- The demo data generator is deterministic, believable and replaces only demo rows.
SELECT etop.demo_seed(5, 1, '2026-01-15');
SELECT external_id, name, segment, industry, compliance, last_qbr_date FROM etop.clients ORDER BY external_id;
SELECT name, sites, contacts, users, devices, agreements, tickets, controls, risks, recommendations
  FROM etop.client_overview ORDER BY client_id;

-- same arguments, same data (compared as a digest of every demo row)
CREATE TEMP TABLE digest1 AS
SELECT md5(string_agg(x, '|' ORDER BY x)) AS d FROM (
    SELECT concat_ws(',', c.external_id, t.external_id, t.category, t.priority, t.sla_met, t.reopen_count,
                     t.after_hours, t.created_date) AS x
      FROM etop.tickets t JOIN etop.clients c ON c.id = t.client_id
    UNION ALL
    SELECT concat_ws(',', c.external_id, d.name, d.type, d.managed, d.purchase_date, d.last_patched_at,
                     d.edr_installed, d.serial_number)
      FROM etop.devices d JOIN etop.clients c ON c.id = d.client_id) s;
SELECT etop.demo_seed(5, 1, '2026-01-15') IS NOT NULL AS reseeded;
SELECT md5(string_agg(x, '|' ORDER BY x)) = (SELECT d FROM digest1) AS same_data FROM (
    SELECT concat_ws(',', c.external_id, t.external_id, t.category, t.priority, t.sla_met, t.reopen_count,
                     t.after_hours, t.created_date) AS x
      FROM etop.tickets t JOIN etop.clients c ON c.id = t.client_id
    UNION ALL
    SELECT concat_ws(',', c.external_id, d.name, d.type, d.managed, d.purchase_date, d.last_patched_at,
                     d.edr_installed, d.serial_number)
      FROM etop.devices d JOIN etop.clients c ON c.id = d.client_id) s;
-- another seed gives other data
SELECT (etop.demo_seed(5, 2, '2026-01-15')->>'tickets')::int <> 4343 AS other_seed_differs;

-- believable shapes: device names, history, aging hardware, after-hours share
SELECT etop.demo_seed(5, 1, '2026-01-15') IS NOT NULL AS back_to_seed_1;
SELECT d.name, d.type, d.os, d.manufacturer, d.model FROM etop.devices d
  JOIN etop.clients c ON c.id = d.client_id
 WHERE c.external_id = 'DEMO-00001' AND d.name IN ('FW-MAIN-01', 'SRV-DC-01')
    OR c.external_id = 'DEMO-00001' AND d.name LIKE '%-ACCT-01' ORDER BY d.name;
SELECT count(DISTINCT date_trunc('quarter', created_date)) AS quarters_of_tickets,
       min(created_date)::date >= '2024-01-15' AND max(created_date)::date <= '2026-01-15' AS within_two_years,
       round(avg(after_hours::int), 2) BETWEEN 0.08 AND 0.25 AS after_hours_share_ok,
       round(avg(sla_met::int), 2) BETWEEN 0.7 AND 1.0 AS sla_share_ok
  FROM etop.tickets;
SELECT count(*) FILTER (WHERE purchase_date < '2026-01-15'::date - interval '4 years') > 0 AS has_aging_hardware,
       count(*) FILTER (WHERE NOT managed) > 0 AS has_unmanaged,
       count(*) FILTER (WHERE last_patched_at < '2026-01-15'::date - 30) > 0 AS has_unpatched
  FROM etop.devices;
-- ticket numbers follow time; what is still open was raised in the last weeks
SELECT bool_and(t.external_id::bigint > t.prev_number AND t.created_date >= t.prev_created) AS numbers_follow_time
  FROM (SELECT external_id, created_date,
               lag(external_id::bigint) OVER w AS prev_number, lag(created_date) OVER w AS prev_created
          FROM etop.tickets WINDOW w AS (PARTITION BY client_id ORDER BY id)) t
 WHERE t.prev_number IS NOT NULL;
SELECT count(*) FILTER (WHERE closed_date IS NULL) > 0 AS some_open,
       bool_and(closed_date IS NULL OR closed_date <= '2026-01-15 08:00') AS closed_by_as_of,
       bool_and(status = 'Closed') FILTER (WHERE created_date < '2025-12-15') AS older_ones_closed,
       bool_and(hours_spent * 4 = round(hours_spent * 4)) AS billed_in_quarter_hours
  FROM etop.tickets;
SELECT count(*) FILTER (WHERE NOT mfa_enabled) > 0 AS has_mfa_gaps,
       count(DISTINCT email) = count(*) AS unique_emails,
       count(*) FILTER (WHERE display_name = 'Scan to Email') AS scanner_accounts
  FROM etop.users;
SELECT control_type, count(*) > 0 AS present FROM etop.controls GROUP BY 1 ORDER BY 1;
SELECT count(*) AS secure_score_controls_per_client FROM etop.controls
 WHERE control_type = 'm365_secure_score' GROUP BY client_id LIMIT 1;

-- only demo rows are replaced, whatever else other clients own
INSERT INTO etop.clients (source, external_id, name) VALUES ('connectwise', '19300', 'Real Customer Inc.');
INSERT INTO etop.devices (client_id, source, external_id, name)
SELECT id, 'connectwise', '501', 'REAL-PC-01' FROM etop.clients WHERE external_id = '19300';
INSERT INTO etop.tickets (client_id, device_id, source, external_id, summary)
SELECT c.id, d.id, 'connectwise', '90001', 'Printer jam' FROM etop.clients c JOIN etop.devices d ON d.client_id = c.id
 WHERE c.external_id = '19300';
SELECT etop.demo_seed(3, 1, '2026-01-15')->>'clients' AS demo_clients;
SELECT source, count(*) FROM etop.clients GROUP BY 1 ORDER BY 1;
SELECT t.summary, d.name AS device FROM etop.tickets t JOIN etop.devices d ON d.id = t.device_id
 WHERE t.source = 'connectwise';

-- a large seed builds the big tables' indexes after loading them: they all
-- come back as they were, and the other client's rows are untouched
CREATE TEMP TABLE schema_before AS
SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = 'etop'
UNION ALL
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'etop'::regnamespace;
SELECT etop.demo_seed(200, 1, '2026-01-15')->>'clients' AS demo_clients;
SELECT count(*) AS schema_differences FROM (
    (SELECT * FROM schema_before
     EXCEPT ALL
     SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'etop'
     EXCEPT ALL
     SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'etop'::regnamespace)
    UNION ALL
    (SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'etop'
     UNION ALL
     SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'etop'::regnamespace
     EXCEPT ALL
     SELECT * FROM schema_before)) d;
SELECT t.summary, d.name AS device FROM etop.tickets t JOIN etop.devices d ON d.id = t.device_id
 WHERE t.source = 'connectwise';
SELECT count(*) AS duplicate_tickets FROM (
    SELECT 1 FROM etop.tickets GROUP BY client_id, source, external_id HAVING count(*) > 1) s;
-- replacing that many demo clients empties the big tables the other client has
-- no rows in, and deletes only the demo rows from the others
SELECT (etop.demo_seed(3, 1, '2026-01-15')->>'tickets')::int AS demo_tickets;
SELECT source, count(*) FROM etop.tickets GROUP BY 1 ORDER BY 1;
SELECT source, count(*) FROM etop.devices GROUP BY 1 ORDER BY 1;

-- bad arguments are refused with a clear message
SELECT etop.demo_seed(0);
SELECT etop.demo_seed(NULL);
SELECT etop.demo_seed(3, NULL);
SELECT etop.demo_seed(3, 1, 'infinity');

-- the loaders called directly (superuser only): a domain that does not fit the
-- e-mail address is refused (it was cut inside a character: invalid UTF-8 in
-- etop.users.email), and the foreign-key triggers' slots are released (were
-- "TupleDesc reference leak" warnings)
SELECT id AS demo1 FROM etop.clients WHERE external_id = 'DEMO-00001' \gset
DELETE FROM etop.users WHERE client_id = :demo1;
DELETE FROM etop.devices WHERE client_id = :demo1;
DELETE FROM etop.controls WHERE client_id = :demo1;
SELECT set_config('etop_test.demo1', :'demo1', false) IS NOT NULL AS noted;
DO $$
BEGIN
    PERFORM etop_internal.demo_load_users(ARRAY[current_setting('etop_test.demo1')::int], '{1}', '{3}',
                                 ARRAY[repeat('é', 51)], 1, '2026-01-15');
EXCEPTION WHEN invalid_parameter_value THEN
    RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, 'client [0-9]+', 'client N');
END $$;
SELECT etop_internal.demo_load_users(ARRAY[:demo1], '{1}', '{3}', ARRAY[repeat('é', 50)], 1, '2026-01-15');
SELECT count(*) AS users, bool_and(email LIKE '%@' || repeat('é', 50)) AS whole_domains
  FROM etop.users WHERE client_id = :demo1;
SELECT etop_internal.demo_load_devices(ARRAY[:demo1], '{1}', '{4}', 1, '2026-01-15');
DELETE FROM etop.clients;
