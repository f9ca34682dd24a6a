-- ConnectWise normalization (spec "ConnectWise Adapter Sync"): the mock's
-- default pages (tests/data/connectwise_pages.sql, anchor 2026-01-15 12:00Z)
-- land in etop.sync_pages as a sync run would store them, and
-- etop.normalize_connectwise() turns them into clients, sites, contacts,
-- agreements, devices and tickets; idempotency, incremental runs, options
-- and clear errors for malformed records.
--
-- Everything runs in one transaction that is rolled back at the end;
-- ON_ERROR_ROLLBACK keeps it going past the expected errors.
\set ON_ERROR_ROLLBACK on
\set SHOW_CONTEXT never
BEGIN;
SET LOCAL DateStyle = 'ISO, YMD';
SET LOCAL TimeZone = 'UTC';
SET LOCAL extra_float_digits = 0;
DELETE FROM etop.clients;
INSERT INTO etop.adapters (name, library, symbol) VALUES ('connectwise', '$libdir/etop', 'etop_test')
    ON CONFLICT (name) DO NOTHING;
INSERT INTO etop.connections (name, adapter, base_url)
VALUES ('test-cw', 'connectwise', 'https://cw.invalid/v4_6_release/apis/3.0');

-- A sync run of connection test-cw with the given pages
-- ([{"endpoint": ..., "payload": [...]}, ...]), started at the fixture's anchor.
CREATE FUNCTION pg_temp.run_with(p_conn text, p_pages jsonb) RETURNS bigint
LANGUAGE sql AS $$
    WITH r AS (
        INSERT INTO etop.sync_runs (connection_id, connection, adapter, started_at)
        SELECT id, name, adapter, '2026-01-15 12:00Z' FROM etop.connections WHERE name = p_conn
        RETURNING id),
    p AS (
        INSERT INTO etop.sync_pages (run_id, endpoint, page, records, payload)
        SELECT r.id, e ->> 'endpoint', o,
               CASE WHEN jsonb_typeof(e -> 'payload') = 'array' THEN jsonb_array_length(e -> 'payload') ELSE 0 END,
               e -> 'payload'
          FROM r, jsonb_array_elements(p_pages) WITH ORDINALITY x(e, o))
    SELECT id FROM r
$$;
-- A record of the fixture run, by endpoint and id.
CREATE FUNCTION pg_temp.rec(p_run bigint, p_endpoint text, p_id text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT r.rec FROM etop.sync_records(p_run, ARRAY[p_endpoint]) r WHERE r.rec ->> 'id' = p_id
$$;
-- Everything ConnectWise put in the normalized tables, minus ids and timestamps of etop's own.
CREATE FUNCTION pg_temp.cw_digest() RETURNS text
LANGUAGE sql AS $$
    SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
        SELECT concat_ws(',', 'c', external_id, name, segment, mrr, agreement_start, agreement_end, industry) AS x
          FROM etop.clients WHERE source = 'connectwise'
        UNION ALL
        SELECT concat_ws(',', 's', c.external_id, s.external_id, s.name, s.address)
          FROM etop.sites s JOIN etop.clients c ON c.id = s.client_id
        UNION ALL
        SELECT concat_ws(',', 'p', c.external_id, p.external_id, p.name, p.role, p.email, p.phone)
          FROM etop.contacts p JOIN etop.clients c ON c.id = p.client_id
        UNION ALL
        SELECT concat_ws(',', 'a', c.external_id, a.external_id, a.name, a.type, a.mrr, a.term_months,
                         a.start_date, a.end_date)
          FROM etop.agreements a JOIN etop.clients c ON c.id = a.client_id
        UNION ALL
        SELECT concat_ws(',', 'd', c.external_id, d.external_id, s.external_id, d.name, d.type, d.os, d.managed,
                         d.serial_number, d.manufacturer, d.model, d.purchase_date, d.warranty_expires)
          FROM etop.devices d JOIN etop.clients c ON c.id = d.client_id LEFT JOIN etop.sites s ON s.id = d.site_id
        UNION ALL
        SELECT concat_ws(',', 't', c.external_id, t.external_id, d.external_id, t.summary, t.category, t.priority,
                         t.status, t.hours_spent, t.sla_met, t.reopen_count, t.after_hours, t.created_date,
                         t.closed_date)
          FROM etop.tickets t JOIN etop.clients c ON c.id = t.client_id LEFT JOIN etop.devices d ON d.id = t.device_id) z
$$;

INSERT INTO etop.sync_runs (connection_id, connection, adapter, started_at)
SELECT id, name, adapter, '2026-01-15 12:00Z' FROM etop.connections WHERE name = 'test-cw'
RETURNING id AS cw_run \gset
\set ECHO none
\set run :cw_run
\i tests/data/connectwise_pages.sql
\set ECHO all
SELECT endpoint, count(*) AS pages, sum(records) AS records
  FROM etop.sync_pages WHERE run_id = :cw_run GROUP BY endpoint ORDER BY endpoint;

-- Scenario: Successfully sync all ConnectWise data
SELECT etop.normalize_connectwise(:cw_run) AS record_counts;
SELECT (SELECT count(*) FROM etop.clients) AS clients, (SELECT count(*) FROM etop.agreements) AS agreements,
       (SELECT count(*) FROM etop.tickets) AS tickets, (SELECT count(*) FROM etop.devices) AS devices,
       (SELECT count(*) FROM etop.sites) AS sites, (SELECT count(*) FROM etop.contacts) AS contacts;
-- each client has a valid external_id from ConnectWise and source = connectwise
SELECT external_id, source, name, industry, segment, mrr, agreement_start, agreement_end
  FROM etop.clients ORDER BY external_id;
SELECT count(*) FILTER (WHERE c.external_id = r.rec ->> 'id' AND c.source = 'connectwise') AS clients_matching_vendor_ids
  FROM etop.clients c JOIN etop.sync_records(:cw_run, '{company/companies}') r ON r.rec ->> 'name' = c.name;

-- Agreements: MRR per month, term, dates (the block-time agreement expired
-- before the run, so Northwind's MRR is the silver agreement alone)
SELECT c.external_id AS company, a.external_id, a.name, a.type, a.mrr, a.term_months, a.start_date, a.end_date
  FROM etop.agreements a JOIN etop.clients c ON c.id = a.client_id ORDER BY a.external_id;

-- Sites and contacts
SELECT c.external_id AS company, s.external_id, s.name, s.address
  FROM etop.sites s JOIN etop.clients c ON c.id = s.client_id ORDER BY s.external_id;
SELECT count(*) AS contacts, count(email) FILTER (WHERE email ~ '^[^@\s]+@[^@\s]+\.[a-z]+$') AS with_email,
       count(phone) AS with_phone, count(DISTINCT role) AS roles
  FROM etop.contacts;
SELECT external_id, name, role, email, phone FROM etop.contacts WHERE external_id IN ('5201', '5205') ORDER BY 1;

-- Devices: configuration type -> endpoint/server; nothing is managed until
-- an agent (Immy.Bot) says so; every device has its site
SELECT type, count(*) AS devices, count(*) FILTER (WHERE managed) AS managed, count(site_id) AS with_site,
       count(serial_number) AS with_serial, count(purchase_date) AS with_purchase,
       count(warranty_expires) AS with_warranty
  FROM etop.devices GROUP BY type ORDER BY type;
SELECT d.external_id, d.name, d.type, d.os, d.serial_number, d.manufacturer, d.model, d.purchase_date,
       d.warranty_expires, d.last_seen, s.name AS site
  FROM etop.devices d LEFT JOIN etop.sites s ON s.id = d.site_id
 WHERE d.external_id IN ('3001', '3013', '3014') ORDER BY 1;

-- Tickets
SELECT count(*) AS tickets,
       count(*) FILTER (WHERE closed_date IS NOT NULL) AS closed,
       count(*) FILTER (WHERE sla_met) AS sla_met, count(*) FILTER (WHERE NOT sla_met) AS sla_missed,
       count(*) FILTER (WHERE sla_met IS NULL) AS sla_open,
       count(*) FILTER (WHERE after_hours) AS after_hours,
       count(device_id) AS with_device, sum(hours_spent) AS hours, max(reopen_count) AS reopens
  FROM etop.tickets;
SELECT category, count(*) FROM etop.tickets GROUP BY 1 ORDER BY 1;
SELECT priority, count(*) FROM etop.tickets GROUP BY 1 ORDER BY 1;
SELECT status, count(*) FROM etop.tickets GROUP BY 1 ORDER BY 1;
-- SLA: a closed ticket's isInSla; an open ticket already out of SLA is
-- false, one still within it is not decided yet (NULL)
SELECT r.rec -> 'closedFlag' AS closed_flag, r.rec -> 'isInSla' AS is_in_sla, t.sla_met, count(*)
  FROM etop.sync_records(:cw_run, '{service/tickets}') r
  JOIN etop.tickets t ON t.external_id = r.rec ->> 'id'
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- after hours: dateEntered in the site's time zone (US Eastern) outside
-- Mon-Fri 08:00-18:00
SELECT t.external_id, r.rec -> '_info' ->> 'dateEntered' AS date_entered,
       to_char(t.created_date AT TIME ZONE 'America/New_York', 'Dy HH24:MI') AS local_time, t.after_hours
  FROM etop.tickets t JOIN etop.sync_records(:cw_run, '{service/tickets}') r ON r.rec ->> 'id' = t.external_id
 WHERE t.external_id IN ('48001', '48002', '48003', '48004', '48005') ORDER BY 1;
SELECT count(*) FILTER (WHERE after_hours <> (extract(isodow FROM created_date AT TIME ZONE 'America/New_York') > 5
                                              OR (created_date AT TIME ZONE 'America/New_York')::time NOT BETWEEN '08:00' AND '17:59:59.999999'))
       AS after_hours_mismatches
  FROM etop.tickets;
-- the device a ticket is about: the client's device named in the summary
SELECT t.external_id, t.summary, d.name AS device
  FROM etop.tickets t LEFT JOIN etop.devices d ON d.id = t.device_id
 WHERE t.external_id IN ('48001', '48003', '48010', '48011', '48012', '48013') ORDER BY 1;
SELECT count(*) AS linked_devices_of_other_clients
  FROM etop.tickets t JOIN etop.devices d ON d.id = t.device_id WHERE d.client_id <> t.client_id;
SELECT t.external_id, t.summary, t.category, t.priority, t.status, t.hours_spent, t.sla_met, t.reopen_count,
       t.csat_score, t.after_hours, t.created_date, t.closed_date
  FROM etop.tickets t WHERE t.external_id = '48001';

-- Idempotent: the same run again, and the same data in a later run, change nothing
CREATE TEMP TABLE digest1 AS SELECT pg_temp.cw_digest() AS d;
SELECT etop.normalize_connectwise(:cw_run) AS same_run_again;
SELECT pg_temp.cw_digest() = (SELECT d FROM digest1) AS unchanged;
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw',
           (SELECT jsonb_agg(jsonb_build_object('endpoint', endpoint, 'payload', payload) ORDER BY endpoint, page)
              FROM etop.sync_pages WHERE run_id = :cw_run))) AS later_run_same_data;
SELECT pg_temp.cw_digest() = (SELECT d FROM digest1) AS unchanged;
-- a record delivered twice in one run (paging overlap) is one row
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(
           jsonb_build_object('endpoint', 'service/tickets', 'payload', jsonb_build_array(pg_temp.rec(:cw_run, 'service/tickets', '48001'))),
           jsonb_build_object('endpoint', 'service/tickets', 'payload', jsonb_build_array(pg_temp.rec(:cw_run, 'service/tickets', '48001'))))))
       AS duplicate_in_run;
SELECT pg_temp.cw_digest() = (SELECT d FROM digest1) AS unchanged;

-- Incremental run (only changed records): ticket 48001 reopened, 48002
-- renamed, a new ticket 49999; nothing else is touched or deleted
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'service/tickets', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'service/tickets', '48001')
                   || '{"closedFlag": false, "closedDate": null, "status": {"id": 42, "name": "In Progress"}}',
               pg_temp.rec(:cw_run, 'service/tickets', '48002') || '{"summary": "Renamed in ConnectWise"}',
               pg_temp.rec(:cw_run, 'service/tickets', '48003') || '{"id": 49999}'))))) AS incremental;
SELECT count(*) AS tickets FROM etop.tickets;
SELECT external_id, summary, status, closed_date, reopen_count FROM etop.tickets
 WHERE external_id IN ('48001', '48002', '49999') ORDER BY 1;
-- the same incremental run again does not count the reopen twice
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'service/tickets', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'service/tickets', '48001')
                   || '{"closedFlag": false, "closedDate": null, "status": {"id": 42, "name": "In Progress"}}')))))
       ->> 'tickets' AS tickets;
SELECT external_id, reopen_count FROM etop.tickets WHERE external_id = '48001';
-- a ticket moved to another company is moved, not duplicated
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'service/tickets', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'service/tickets', '48002')
                   || '{"company": {"id": 254, "identifier": "AdventureWorksClinic", "name": "Adventure Works Clinic"}}')))))
       ->> 'tickets' AS tickets;
SELECT count(*) AS rows_for_48002, min(c.external_id) AS company
  FROM etop.tickets t JOIN etop.clients c ON c.id = t.client_id WHERE t.external_id = '48002';
-- a cancelled agreement ends on its cancellation date and leaves the client's MRR
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'finance/agreements', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'finance/agreements', '611')
                   || '{"cancelledFlag": true, "dateCancelled": "2026-01-10T00:00:00Z"}')))))
       ->> 'agreements' AS agreements;
SELECT a.end_date, c.mrr FROM etop.agreements a JOIN etop.clients c ON c.id = a.client_id WHERE a.external_id = '611';

-- Options: time zone of the connection, business hours, device types, priorities
SELECT etop_internal.cw_time_zone(n) AS iana, n AS connectwise_name
  FROM unnest(ARRAY['US Eastern', 'US Central', 'US Mountain', 'US Arizona', 'US Pacific', 'Eastern Standard Time',
                    '(UTC-06:00) Central Time (US & Canada)', 'Europe/Berlin', 'GMT', 'Mars/Olympus', '']) n;
SELECT etop_internal.cw_time_zone('Head Office Time', '{"time_zone_map": {"Head Office Time": "Europe/Dublin"}}') AS mapped;
SELECT t AS config_type, etop_internal.cw_device_type(t, NULL) AS type
  FROM unnest(ARRAY['Workstation', 'Laptop', 'Server', 'Virtual Machine', 'Firewall', 'Managed Switch',
                    'Wireless Access Point', 'Printer', NULL]) t;
SELECT etop_internal.cw_device_type('Printer', NULL, '{"device_type_map": {"Printer": "network"}}') AS mapped,
       etop_internal.cw_device_type('Other', 'Windows Server 2022 Standard') AS by_os;
SELECT n AS priority_name, etop_internal.cw_priority(n, NULL) AS priority
  FROM unnest(ARRAY['Priority 1 - Emergency Response', 'Priority 2 - Quick Response', 'Priority 3 - Normal Response',
                    'Priority 4 - Schedule Maintenance', 'Priority 5 - Project', 'Urgent', 'Low', 'Whenever']) n;
SELECT etop_internal.cw_priority('Whenever', 2) AS by_sort, etop_internal.cw_priority('P-A', NULL, '{"priority_map": {"P-A": "high"}}') AS mapped;
UPDATE etop.connections SET options = '{"business_hours": {"start": "07:00", "end": "19:00", "days": [1,2,3,4,5,6]}}'
 WHERE name = 'test-cw';
SELECT etop.normalize_connectwise(:cw_run) ->> 'tickets' AS tickets;
SELECT count(*) FILTER (WHERE after_hours) AS after_hours_with_longer_hours FROM etop.tickets;
UPDATE etop.connections SET options = '{"business_hours": {"start": "8 o''clock"}}' WHERE name = 'test-cw';
SELECT etop.normalize_connectwise(:cw_run);
UPDATE etop.connections SET options = '{"time_zone": "Mars/Olympus"}' WHERE name = 'test-cw';
SELECT etop.normalize_connectwise(:cw_run);
UPDATE etop.connections SET options = '{"unknown_companies": "maybe"}' WHERE name = 'test-cw';
SELECT etop.normalize_connectwise(:cw_run);
UPDATE etop.connections SET options = '{}' WHERE name = 'test-cw';
SELECT etop.normalize_connectwise(:cw_run) ->> 'tickets' AS tickets;
-- session time zone and DateStyle do not change a thing
SET LOCAL TimeZone = 'Asia/Tokyo';
SET LOCAL DateStyle = 'SQL, DMY';
SELECT etop.normalize_connectwise(:cw_run) ->> 'tickets' AS tickets;
SET LOCAL TimeZone = 'UTC';
SET LOCAL DateStyle = 'ISO, YMD';
DROP TABLE digest1;
CREATE TEMP TABLE digest1 AS SELECT pg_temp.cw_digest() AS d;
SET LOCAL TimeZone = 'Pacific/Kiritimati';
SELECT etop.normalize_connectwise(:cw_run) ->> 'tickets' AS tickets;
SET LOCAL TimeZone = 'UTC';
SELECT pg_temp.cw_digest() = (SELECT d FROM digest1) AS unchanged;

-- Clear errors for malformed records: the vendor, endpoint, record and
-- field are named, and nothing is written
SELECT count(*) AS tickets_before FROM etop.tickets;
-- a string where a number is expected
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'service/tickets', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'service/tickets', '48001') || '{"id": 50001}',
               pg_temp.rec(:cw_run, 'service/tickets', '48002') || '{"id": 50002, "actualHours": "1.5"}')))));
-- a missing id
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'service/tickets', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'service/tickets', '48001') - 'id')))));
-- an id that is not an integer
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'company/companies', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'company/companies', '250') || '{"id": 250.5}')))));
-- unparsable dates: month 13, 30 February, an epoch number
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'service/tickets', 'payload', jsonb_build_array(
               jsonb_set(pg_temp.rec(:cw_run, 'service/tickets', '48001'), '{_info,dateEntered}', '"2025-13-01T10:00:00Z"'))))));
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'finance/agreements', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'finance/agreements', '610') || '{"endDate": "2027-02-30T00:00:00Z"}')))));
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'service/tickets', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'service/tickets', '48001') || '{"closedDate": 1737307064}')))));
-- a ticket without a company, and one of a company etop does not know
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'service/tickets', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'service/tickets', '48001') - 'company')))));
-- (an error only when the connection says so: unknown_companies = "error")
UPDATE etop.connections SET options = '{"unknown_companies": "error"}' WHERE name = 'test-cw';
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'service/tickets', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'service/tickets', '48001')
                   || '{"id": 50003, "company": {"id": 999, "identifier": "Gone", "name": "Gone Inc"}}')))));
-- ... by default (a former client's records are normal data) they are left out and counted
UPDATE etop.connections SET options = '{}' WHERE name = 'test-cw';
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'service/tickets', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'service/tickets', '48001')
                   || '{"id": 50003, "company": {"id": 999, "identifier": "Gone", "name": "Gone Inc"}}')))))
       AS skipping_unknown_companies;
UPDATE etop.connections SET options = '{}' WHERE name = 'test-cw';
-- an id that is an integer but no ConnectWise id (1e30): a clear per-record error
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'service/tickets', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'service/tickets', '48001') || '{"id": 1e30}')))));
-- out-of-range hours
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'service/tickets', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'service/tickets', '48001') || '{"actualHours": -2}')))));
-- a page that is not an array of records, a record that is not an object
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', '[{"endpoint": "company/companies", "payload": {"code": "Unauthorized"}}]'));
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', '[{"endpoint": "company/contacts", "payload": [42]}]'));
-- an object where a reference is expected
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'company/configurations', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'company/configurations', '3001') || '{"type": "Workstation"}')))));
-- records broken the way the mock servers' wrong-types / missing-fields faults break them
CREATE TEMP TABLE fault_pages (vendor text, fault text, endpoint text, payload jsonb);
\set ECHO none
\i tests/data/fault_pages.sql
\set ECHO all
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object('endpoint', endpoint, 'payload', payload))))
  FROM fault_pages WHERE vendor = 'connectwise' AND fault = 'wrong-types' AND endpoint = 'service/tickets';
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object('endpoint', endpoint, 'payload', payload))))
  FROM fault_pages WHERE vendor = 'connectwise' AND fault = 'missing-fields' AND endpoint = 'service/tickets';
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object('endpoint', endpoint, 'payload', payload))))
  FROM fault_pages WHERE vendor = 'connectwise' AND fault = 'wrong-types' AND endpoint = 'company/configurations';
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object('endpoint', endpoint, 'payload', payload))))
  FROM fault_pages WHERE vendor = 'connectwise' AND fault = 'missing-fields' AND endpoint = 'company/configurations';
-- a run that does not exist
SELECT etop.normalize_connectwise(-1);
-- nothing of the failed runs was written
SELECT count(*) AS tickets_after FROM etop.tickets;
SELECT count(*) AS tickets_50000_and_up FROM etop.tickets WHERE external_id::int >= 50000;

-- Only etop_admin may run a normalization
SELECT p.proname, array_agg(a.grantee::regrole::text ORDER BY a.grantee::regrole::text) AS execute_granted_to
  FROM pg_proc p, aclexplode(p.proacl) a
 WHERE p.pronamespace = 'etop'::regnamespace AND p.proname LIKE 'normalize\_%' AND a.privilege_type = 'EXECUTE'
   AND a.grantee <> p.proowner
 GROUP BY p.proname ORDER BY 1;
SET ROLE etop_am;
SELECT etop.normalize_connectwise(:cw_run);
RESET ROLE;
SET ROLE etop_admin;
SELECT etop.normalize_connectwise(:cw_run) AS as_etop_admin;
RESET ROLE;
ROLLBACK;
