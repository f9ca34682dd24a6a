-- The normalized data model: the spec's columns plus etop's additions.
SELECT table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) AS columns
  FROM information_schema.columns
 WHERE table_schema = 'etop'
   AND table_name IN ('clients', 'sites', 'contacts', 'users', 'devices', 'agreements', 'tickets',
                      'controls', 'risks', 'recommendations', 'external_refs')
 GROUP BY table_name ORDER BY table_name;

-- Every synced table is unique per (client, source, external_id) ...
SELECT conrelid::regclass AS table_name, pg_get_constraintdef(oid) AS unique_key
  FROM pg_constraint
 WHERE connamespace = 'etop'::regnamespace AND contype = 'u'
 ORDER BY 1, 2;

-- ... so an adapter's upsert is idempotent.
INSERT INTO etop.clients (source, external_id, name, segment) VALUES ('connectwise', '250', 'Contoso Ltd', 'A');
INSERT INTO etop.clients (source, external_id, name, segment) VALUES ('connectwise', '250', 'Contoso Ltd', 'A')
    ON CONFLICT (source, external_id) DO UPDATE SET name = 'Contoso Limited';
INSERT INTO etop.devices (client_id, source, external_id, name, type)
SELECT id, 'connectwise', 'CW-DEVICE-123', 'WS-ACCT-01', 'endpoint' FROM etop.clients WHERE external_id = '250';
INSERT INTO etop.devices (client_id, source, external_id, name, type)
SELECT id, 'connectwise', 'CW-DEVICE-123', 'WS-ACCT-01', 'endpoint' FROM etop.clients WHERE external_id = '250'
    ON CONFLICT (client_id, source, external_id) DO UPDATE SET managed = true;
SELECT c.name, d.name AS device, d.managed
  FROM etop.clients c JOIN etop.devices d ON d.client_id = c.id;
-- a plain duplicate is refused
INSERT INTO etop.devices (client_id, source, external_id, name)
SELECT id, 'connectwise', 'CW-DEVICE-123', 'dup' FROM etop.clients WHERE external_id = '250';
-- checks keep vocabularies closed (terse: the failing row carries timestamps)
\set VERBOSITY terse
INSERT INTO etop.clients (source, external_id, name, segment) VALUES ('connectwise', '251', 'Bad', 'E');
INSERT INTO etop.users (client_id, source, external_id, risk_level)
SELECT id, 'm365', 'u1', 'extreme' FROM etop.clients WHERE external_id = '250';
\set VERBOSITY default
-- deleting a client removes everything it owns
DELETE FROM etop.clients WHERE external_id = '250';
SELECT count(*) AS devices_left FROM etop.devices;

-- settings fall back to documented defaults and refuse unknown keys
SELECT etop.setting('unit_costs') AS unit_costs;
SELECT etop.setting_set('msp_name', '"Bright IT"');
SELECT key, value, changed FROM etop.settings_effective WHERE key IN ('msp_name', 'currency') ORDER BY key;
SELECT etop.setting_set('msp_name', NULL) AS restored;
SELECT etop.setting_set('no_such_setting', '1');
