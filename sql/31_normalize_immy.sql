-- Immy.Bot normalization (spec "Immy.Bot Adapter Sync"): the mock's default
-- pages (tests/data/immy_pages.sql: 47 computers, 3 baselines, 12 drift
-- reports) after the ConnectWise sync of the same MSP; computers correlate
-- with the ConnectWise devices by serial number (never a duplicate), drift
-- reports become immy_baseline controls; tenant mapping; idempotency;
-- clear errors.  One transaction, rolled back at the end.
\set ON_ERROR_ROLLBACK on
\set SHOW_CONTEXT never
BEGIN;
SET LOCAL DateStyle = 'ISO, YMD';
SET LOCAL TimeZone = 'UTC';
SET LOCAL extra_float_digits = 0;
\set ECHO none
\i tests/data/setup_normalize.sql
\set ECHO all
-- Background: the database contains the 5 clients (and 47 devices) from the ConnectWise sync
SELECT :'cw_counts'::jsonb -> 'clients' AS clients, :'cw_counts'::jsonb -> 'devices' AS devices;

-- Everything Immy.Bot put in devices, external_refs and controls, minus etop's ids and timestamps.
CREATE FUNCTION pg_temp.immy_digest() RETURNS text
LANGUAGE sql AS $$
    SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
        SELECT concat_ws(',', 'd', c.external_id, d.source, d.external_id, d.name, d.type, d.os, d.managed,
                         d.last_seen, d.serial_number, d.manufacturer, d.model, d.last_patched_at,
                         d.edr_installed, d.edr_healthy) AS x
          FROM etop.devices d JOIN etop.clients c ON c.id = d.client_id
        UNION ALL
        SELECT concat_ws(',', 'r', x.entity, d.external_id, x.source, x.external_id, x.matched_on)
          FROM etop.external_refs x JOIN etop.devices d ON d.id = x.entity_id
        UNION ALL
        SELECT concat_ws(',', 'k', c.external_id, d.external_id, k.source, k.external_id, k.control_type, k.title,
                         k.status, k.evidence::text, k.last_checked)
          FROM etop.controls k JOIN etop.clients c ON c.id = k.client_id LEFT JOIN etop.devices d ON d.id = k.device_id) z
$$;

INSERT INTO etop.sync_runs (connection_id, connection, adapter, started_at)
SELECT id, name, adapter, '2026-01-15 12:00Z' FROM etop.connections WHERE name = 'test-immy'
RETURNING id AS immy_run \gset
\set ECHO none
\set run :immy_run
\i tests/data/immy_pages.sql
\set ECHO all
SELECT endpoint, count(*) AS pages, sum(records) AS records
  FROM etop.sync_pages WHERE run_id = :immy_run GROUP BY endpoint ORDER BY endpoint;

-- Scenario: Successfully sync Immy.Bot compliance data
SELECT etop.normalize_immy(:immy_run) AS record_counts;
-- the devices table is updated with 47 records (no duplicate), all managed now
SELECT count(*) AS devices, count(*) FILTER (WHERE managed) AS managed,
       count(DISTINCT etop.serial_key(serial_number)) AS distinct_serials,
       count(*) FILTER (WHERE source = 'connectwise') AS connectwise_rows,
       count(*) FILTER (WHERE source = 'immy') AS immy_rows,
       count(last_seen) AS with_last_seen
  FROM etop.devices;
-- one reference per computer, each to the ConnectWise device with its serial number
SELECT x.entity, x.source, x.matched_on, count(*) AS refs, count(DISTINCT x.entity_id) AS devices
  FROM etop.external_refs x GROUP BY 1, 2, 3;
SELECT count(*) AS computers,
       count(*) FILTER (WHERE etop.serial_key(d.serial_number) = etop.serial_key(r.rec ->> 'serialNumber')
                          AND d.client_id = x.client_id) AS same_serial_same_client
  FROM etop.sync_records(:immy_run, '{computers/paged}') r
  JOIN etop.external_refs x ON x.entity = 'device' AND x.source = 'immy' AND x.external_id = r.rec ->> 'id'
  JOIN etop.devices d ON d.id = x.entity_id;
-- the device keeps its ConnectWise data (name, even when Immy.Bot sees a
-- re-imaged machine's new name) and gains Immy.Bot's (agent last seen)
SELECT r.rec ->> 'id' AS computer, r.rec ->> 'computerName' AS immy_name, d.source, d.external_id, d.name,
       d.os, d.managed, d.last_seen, r.rec ->> 'lastProviderAgentEventDateUtc' AS agent_event
  FROM etop.sync_records(:immy_run, '{computers/paged}') r
  JOIN etop.external_refs x ON x.entity = 'device' AND x.source = 'immy' AND x.external_id = r.rec ->> 'id'
  JOIN etop.devices d ON d.id = x.entity_id
 WHERE r.rec ->> 'id' IN ('1001', '1006', '1020') ORDER BY 1;

-- the controls table contains 12 records with control_type immy_baseline,
-- with status pass/fail/unknown, evidence a JSON object, last_checked
-- within 24 h (of the data's time, 2026-01-15 12:00 UTC)
SELECT control_type, count(*) AS controls, count(device_id) AS per_device,
       bool_and(status IN ('pass', 'fail', 'unknown')) AS status_ok,
       bool_and(jsonb_typeof(evidence) = 'object') AS evidence_ok,
       bool_and(last_checked BETWEEN timestamptz '2026-01-15 12:00Z' - interval '24 hours'
                                 AND timestamptz '2026-01-15 12:00Z') AS checked_within_24h
  FROM etop.controls GROUP BY control_type;
SELECT status, count(*) FROM etop.controls GROUP BY status ORDER BY status;
SELECT k.external_id, k.title, k.status, d.name AS device, c.external_id AS company,
       k.evidence ->> 'resultName' AS result, k.evidence -> 'baseline' ->> 'target' AS baseline_target,
       k.evidence ->> 'resultReasonMessage' AS reason, k.last_checked
  FROM etop.controls k JOIN etop.devices d ON d.id = k.device_id JOIN etop.clients c ON c.id = k.client_id
 ORDER BY k.external_id;
-- what the results say about the devices: EDR (the Defender deployment) and patches (updates)
SELECT d.name, d.edr_installed, d.edr_healthy, d.last_patched_at
  FROM etop.devices d WHERE d.edr_installed OR d.edr_healthy OR d.last_patched_at IS NOT NULL
     OR d.id IN (SELECT device_id FROM etop.controls WHERE title ~ 'Defender')
 ORDER BY d.name;

-- Idempotent: the same run again and the same data in a later run change nothing
CREATE TEMP TABLE digest1 AS SELECT pg_temp.immy_digest() AS d;
SELECT etop.normalize_immy(:immy_run) AS same_run_again;
SELECT pg_temp.immy_digest() = (SELECT d FROM digest1) AS unchanged;
SELECT etop.normalize_immy(pg_temp.run_with('test-immy',
           (SELECT jsonb_agg(jsonb_build_object('endpoint', endpoint, 'payload', payload) ORDER BY endpoint, page)
              FROM etop.sync_pages WHERE run_id = :immy_run))) AS later_run_same_data;
SELECT pg_temp.immy_digest() = (SELECT d FROM digest1) AS unchanged;
-- a ConnectWise re-sync keeps what Immy.Bot said (managed, last seen)
SELECT etop.normalize_connectwise(:cw_run) ->> 'devices' AS cw_devices;
SELECT pg_temp.immy_digest() = (SELECT d FROM digest1) AS unchanged;
-- a newer drift report replaces the older one of the same computer and baseline
SELECT etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(jsonb_build_object(
           'endpoint', 'maintenance-actions/dx', 'payload', jsonb_build_array(
               pg_temp.rec(:immy_run, 'maintenance-actions/dx', '143704')
                   || '{"id": 143800, "result": 1, "resultName": "Success", "statusName": "Completed",
                        "resultReasonMessage": null, "endTime": "2026-01-15T11:00:00Z"}')))))
       AS newer_result;
SELECT count(*) AS controls FROM etop.controls;
SELECT external_id, status, evidence ->> 'id' AS action_id, last_checked FROM etop.controls
 WHERE external_id = (SELECT (r.rec ->> 'computerId') || ':' || (r.rec ->> 'assignmentId')
                        FROM etop.sync_records(:immy_run, '{maintenance-actions/dx}') r WHERE r.rec ->> 'id' = '143704');

-- Scenario: Immy.Bot device maps to existing ConnectWise device
INSERT INTO etop.devices (client_id, source, external_id, name, type, serial_number, managed)
SELECT id, 'connectwise', 'CW-DEVICE-123', 'WS-LOBBY-01', 'endpoint', ' ab12 cd34x ', false
  FROM etop.clients WHERE source = 'connectwise' AND external_id = '250';
SELECT count(*) AS devices_before FROM etop.devices;
SELECT etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(jsonb_build_object(
           'endpoint', 'computers/paged', 'payload', jsonb_build_array(
               pg_temp.rec(:immy_run, 'computers/paged', '1001')
                   || '{"id": 9001, "computerName": "DESKTOP-LOBBY", "serialNumber": "AB12CD34X",
                        "operatingSystem": "Microsoft Windows 11 Pro", "manufacturer": "Dell Inc.",
                        "model": "OptiPlex 7010", "lastProviderAgentEventDateUtc": "2026-01-15T10:00:00Z"}')))))
       AS immy_counts;
SELECT count(*) AS devices_after FROM etop.devices;
SELECT d.source, d.external_id, d.name, d.os, d.manufacturer, d.model, d.serial_number, d.managed, d.last_seen,
       x.source AS ref_source, x.external_id AS ref_external_id, x.matched_on
  FROM etop.devices d JOIN etop.external_refs x ON x.entity = 'device' AND x.entity_id = d.id
 WHERE d.external_id = 'CW-DEVICE-123';

-- A computer no other vendor knows becomes a device of source immy; when
-- ConnectWise later delivers a configuration with its serial number, that
-- device becomes the configuration's row (still one device)
SELECT etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(jsonb_build_object(
           'endpoint', 'computers/paged', 'payload', jsonb_build_array(
               pg_temp.rec(:immy_run, 'computers/paged', '1020')
                   || '{"id": 9002, "tenantId": 11, "tenantName": "Northwind Logistics", "computerName": "NW-KIOSK-01",
                        "serialNumber": "NWKIOSK0001", "chassisTypes": [35], "domainRole": 1}')))))
       AS immy_counts;
SELECT c.external_id AS company, d.source, d.external_id, d.name, d.type, d.managed, d.serial_number, x.matched_on
  FROM etop.devices d JOIN etop.clients c ON c.id = d.client_id
  JOIN etop.external_refs x ON x.entity = 'device' AND x.entity_id = d.id
 WHERE d.serial_number = 'NWKIOSK0001';
SELECT etop.normalize_connectwise(pg_temp.run_with('test-cw', jsonb_build_array(jsonb_build_object(
           'endpoint', 'company/configurations', 'payload', jsonb_build_array(
               pg_temp.rec(:cw_run, 'company/configurations', '3016')
                   || '{"id": 3999, "name": "NW-KIOSK-01", "serialNumber": "nwkiosk 0001",
                        "type": {"id": 11, "name": "Workstation"}}')))))
       ->> 'devices' AS cw_devices;
SELECT c.external_id AS company, d.source, d.external_id, d.name, d.type, d.managed, d.serial_number,
       x.source AS ref_source, x.external_id AS ref_external_id, x.matched_on
  FROM etop.devices d JOIN etop.clients c ON c.id = d.client_id
  JOIN etop.external_refs x ON x.entity = 'device' AND x.entity_id = d.id
 WHERE etop.serial_key(d.serial_number) = 'NWKIOSK0001';
SELECT etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(jsonb_build_object(
           'endpoint', 'computers/paged', 'payload', jsonb_build_array(
               pg_temp.rec(:immy_run, 'computers/paged', '1020')
                   || '{"id": 9002, "tenantId": 11, "tenantName": "Northwind Logistics", "computerName": "NW-KIOSK-01",
                        "serialNumber": "NWKIOSK0001", "chassisTypes": [35], "domainRole": 1}')))))
       ->> 'devices_correlated' AS correlated_now;
SELECT count(*) AS devices_with_that_serial FROM etop.devices WHERE etop.serial_key(serial_number) = 'NWKIOSK0001';
-- placeholder serials never correlate
SELECT s, etop.serial_key(s) AS serial_key
  FROM unnest(ARRAY[' 5cg 123 4567 ', 'To be filled by O.E.M.', 'Default string', '0000000', 'N/A', 'abc', NULL]) s;

-- Tenants: by name unless connections.options.tenant_map says otherwise
SELECT etop_internal.immy_tenant_clients(:immy_run, '{}', '{computers/paged}', '{maintenance-actions/%}') -> 'unmapped' AS unmapped_by_name;
SELECT count(*) AS tenants_mapped_by_name
  FROM jsonb_each_text(etop_internal.immy_tenant_clients(:immy_run, '{}', '{computers/paged}', '{maintenance-actions/%}') -> 'clients') t
  JOIN etop.clients c ON c.id = t.value::int
  JOIN etop.sync_records(:immy_run, '{tenants}') r ON r.rec ->> 'id' = t.key AND r.rec ->> 'name' = c.name;
-- a tenant whose name matches no client is left out (and reported) ...
SELECT etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(
           jsonb_build_object('endpoint', 'tenants', 'payload', '[{"id": 77, "name": "Contoso (Immy)", "isMsp": false}]'::jsonb),
           jsonb_build_object('endpoint', 'computers/paged', 'payload', jsonb_build_array(
               pg_temp.rec(:immy_run, 'computers/paged', '1002') || '{"id": 9003, "tenantId": 77, "tenantName": "Contoso (Immy)"}')))))
       AS unmapped_tenant;
-- ... unless tenant_map maps it (to a ConnectWise company id)
UPDATE etop.connections SET options = '{"tenant_map": {"77": "250"}}' WHERE name = 'test-immy';
SELECT etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(
           jsonb_build_object('endpoint', 'tenants', 'payload', '[{"id": 77, "name": "Contoso (Immy)", "isMsp": false}]'::jsonb),
           jsonb_build_object('endpoint', 'computers/paged', 'payload', jsonb_build_array(
               pg_temp.rec(:immy_run, 'computers/paged', '1002') || '{"id": 9003, "tenantId": 77, "tenantName": "Contoso (Immy)"}')))))
       AS mapped_tenant;
SELECT d.external_id, d.name, array_agg(x.external_id ORDER BY x.external_id) AS immy_computers
  FROM etop.devices d JOIN etop.external_refs x ON x.entity = 'device' AND x.entity_id = d.id
 WHERE x.external_id IN ('1002', '9003') GROUP BY 1, 2;
-- the MSP's own tenant is left out unless mapped; deleted computers too
UPDATE etop.connections SET options = '{}' WHERE name = 'test-immy';
SELECT etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(
           jsonb_build_object('endpoint', 'tenants', 'payload', (SELECT jsonb_agg(r.rec) FROM etop.sync_records(:immy_run, '{tenants}') r)),
           jsonb_build_object('endpoint', 'computers/paged', 'payload', jsonb_build_array(
               pg_temp.rec(:immy_run, 'computers/paged', '1003') || '{"id": 9004, "tenantId": 1, "tenantName": "ETop MSP", "serialNumber": "MSPLAPTOP1"}',
               pg_temp.rec(:immy_run, 'computers/paged', '1004') || '{"id": 9005, "deletedAt": "2026-01-10T08:00:00Z", "serialNumber": "GONE00001"}')))))
       AS msp_and_deleted;
SELECT count(*) AS devices_of_those FROM etop.devices WHERE serial_number IN ('MSPLAPTOP1', 'GONE00001');
-- mapping errors
UPDATE etop.connections SET options = '{"tenant_map": {"10": "999"}}' WHERE name = 'test-immy';
SELECT etop.normalize_immy(:immy_run);
UPDATE etop.connections SET options = '{"tenant_map": {"10": {"company": 250}}}' WHERE name = 'test-immy';
SELECT etop.normalize_immy(:immy_run);
UPDATE etop.connections SET options = '{"tenant_map": ["10", "250"]}' WHERE name = 'test-immy';
SELECT etop.normalize_immy(:immy_run);
UPDATE etop.connections SET options = '{"edr_pattern": "(unclosed"}' WHERE name = 'test-immy';
SELECT etop.normalize_immy(:immy_run);
UPDATE etop.connections SET options = '{}' WHERE name = 'test-immy';
INSERT INTO etop.clients (source, external_id, name) VALUES ('connectwise', '9999', 'northwind logistics ');
SELECT etop.normalize_immy(:immy_run);
DELETE FROM etop.clients WHERE external_id = '9999';

-- ImmyBot enums come as integers or as their names (result 2 or "Failed",
-- maintenanceType 6 or "GlobalMaintenanceTask"); a target assignment has no
-- maintenanceDisplayName (the title comes from the result); an ad-hoc run
-- (assignmentId 0) is no baseline result: left out and counted.  Results of
-- GET maintenance-actions/latest-for-tenant/{id} are read like the others.
SELECT etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(
           jsonb_build_object('endpoint', 'target-assignments', 'payload', jsonb_build_array(
               pg_temp.rec(:immy_run, 'target-assignments', '301') - 'maintenanceDisplayName'
               || '{"maintenanceType": "GlobalMaintenanceTask"}')),
           jsonb_build_object('endpoint', 'maintenance-actions/latest-for-tenant/10', 'payload', jsonb_build_array(
               (pg_temp.rec(:immy_run, 'maintenance-actions/dx', '143700') - 'resultName')
               || '{"id": 990001, "assignmentId": 301, "result": "Failed", "maintenanceType": 6, "endTime": "2026-01-15T11:59:00Z"}',
               pg_temp.rec(:immy_run, 'maintenance-actions/dx', '143701')
               || '{"id": 990002, "assignmentId": 0, "result": 1, "maintenanceType": "GlobalSoftware"}')))))
       AS enums_and_adhoc;
SELECT k.title, k.status, k.evidence ->> 'result' AS result
  FROM etop.controls k WHERE k.evidence ->> 'id' IN ('990001', '990002');

-- Clear errors for malformed records, and nothing is written
SELECT pg_temp.immy_digest() AS d \gset before_
SELECT etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(jsonb_build_object(
           'endpoint', 'computers/paged', 'payload', jsonb_build_array(
               pg_temp.rec(:immy_run, 'computers/paged', '1001') || '{"tenantId": "10"}')))));
SELECT etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(jsonb_build_object(
           'endpoint', 'computers/paged', 'payload', jsonb_build_array(
               pg_temp.rec(:immy_run, 'computers/paged', '1001') || '{"lastProviderAgentEventDateUtc": "yesterday"}')))));
SELECT etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(jsonb_build_object(
           'endpoint', 'maintenance-actions/dx', 'payload', jsonb_build_array(
               pg_temp.rec(:immy_run, 'maintenance-actions/dx', '143700') - 'result' - 'resultName')))));
SELECT etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(jsonb_build_object(
           'endpoint', 'computers/paged', 'payload', '{"count": 47}'::jsonb))));
SELECT f.fault, f.endpoint, etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(jsonb_build_object('endpoint', f.endpoint, 'payload', f.payload))))
  FROM fault_pages f WHERE vendor = 'immy' AND fault = 'wrong-types' AND endpoint = 'computers/paged';
SELECT f.fault, f.endpoint, etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(jsonb_build_object('endpoint', f.endpoint, 'payload', f.payload))))
  FROM fault_pages f WHERE vendor = 'immy' AND fault = 'missing-fields' AND endpoint = 'computers/paged';
SELECT f.fault, f.endpoint, etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(jsonb_build_object('endpoint', f.endpoint, 'payload', f.payload))))
  FROM fault_pages f WHERE vendor = 'immy' AND fault = 'wrong-types' AND endpoint = 'maintenance-actions/dx';
SELECT f.fault, f.endpoint, etop.normalize_immy(pg_temp.run_with('test-immy', jsonb_build_array(jsonb_build_object('endpoint', f.endpoint, 'payload', f.payload))))
  FROM fault_pages f WHERE vendor = 'immy' AND fault = 'missing-fields' AND endpoint = 'maintenance-actions/dx';
SELECT pg_temp.immy_digest() = :'before_d' AS nothing_written;
ROLLBACK;
