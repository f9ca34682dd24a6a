-- Microsoft 365 normalization (spec "Microsoft 365 Adapter Sync"): the mock
-- Graph tenant's default pages (tests/data/m365_pages.sql: 73 users, 28
-- Secure Score controls, 5 Defender alerts) for client 1 of the ConnectWise
-- sync (Contoso Dental Group, company 250); client mapping, MFA and risk
-- rules, Secure Score evidence, alerts as risks, idempotency, clear errors.
-- One transaction, rolled back at the end.
\set ON_ERROR_ROLLBACK on
\set SHOW_CONTEXT never
BEGIN;
SET LOCAL DateStyle = 'ISO, YMD';
SET LOCAL TimeZone = 'UTC';
SET LOCAL extra_float_digits = 0;
\set ECHO none
\i tests/data/setup_normalize.sql
\set ECHO all
-- Background: the database contains 5 clients
SELECT count(*) AS clients FROM etop.clients;

-- Everything Microsoft 365 put in users, controls and risks, minus etop's ids and timestamps.
CREATE FUNCTION pg_temp.m365_digest() RETURNS text
LANGUAGE sql AS $$
    SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
        SELECT concat_ws(',', 'u', c.external_id, u.external_id, u.display_name, u.email, u.upn, u.account_enabled,
                         u.mfa_enabled, u.risk_level, u.last_sign_in) AS x
          FROM etop.users u JOIN etop.clients c ON c.id = u.client_id
        UNION ALL
        SELECT concat_ws(',', 'k', c.external_id, k.source, k.external_id, k.control_type, k.title, k.status,
                         k.evidence::text, k.last_checked)
          FROM etop.controls k JOIN etop.clients c ON c.id = k.client_id
        UNION ALL
        SELECT concat_ws(',', 'r', c.external_id, d.external_id, r.external_id, r.risk_type, r.title, r.description,
                         r.severity, r.likelihood, r.impact, r.status, r.mitigation, r.detected_at, r.resolved_at)
          FROM etop.risks r JOIN etop.clients c ON c.id = r.client_id LEFT JOIN etop.devices d ON d.id = r.device_id) z
$$;

INSERT INTO etop.sync_runs (connection_id, connection, adapter, started_at)
SELECT id, name, adapter, '2026-01-15 12:00Z' FROM etop.connections WHERE name = 'test-m365'
RETURNING id AS m365_run \gset
\set ECHO none
\set run :m365_run
\i tests/data/m365_pages.sql
\set ECHO all
SELECT endpoint, count(*) AS pages, sum(records) AS records
  FROM etop.sync_pages WHERE run_id = :m365_run GROUP BY endpoint ORDER BY endpoint;

-- The tenant is one client: unmapped, or mapped to a client etop does not know, is an error
UPDATE etop.connections SET options = '{}' WHERE name = 'test-m365';
SELECT etop.normalize_m365(:m365_run);
UPDATE etop.connections SET options = '{"client_external_id": "999"}' WHERE name = 'test-m365';
SELECT etop.normalize_m365(:m365_run);
UPDATE etop.connections SET options = '{"client_external_id": "250", "client_source": "psa"}' WHERE name = 'test-m365';
SELECT etop.normalize_m365(:m365_run);
UPDATE etop.connections SET options = '{"client_id": -5}' WHERE name = 'test-m365';
SELECT etop.normalize_m365(:m365_run);
UPDATE etop.connections SET options = '{"client_id": 2147483}' WHERE name = 'test-m365';
SELECT etop.normalize_m365(:m365_run);
SELECT count(*) AS users_after_errors FROM etop.users;
-- by etop id ...
UPDATE etop.connections
   SET options = jsonb_build_object('client_id', (SELECT id FROM etop.clients WHERE source = 'connectwise' AND external_id = '250'))
 WHERE name = 'test-m365';
SELECT etop.normalize_m365(:m365_run) AS by_client_id;
-- ... or by the vendor id of the client (ConnectWise company 250)
UPDATE etop.connections SET options = '{"client_external_id": "250"}' WHERE name = 'test-m365';

-- Scenario: Successfully sync Microsoft 365 data
SELECT etop.normalize_m365(:m365_run) AS record_counts;
SELECT (SELECT count(*) FROM etop.users) AS users,
       (SELECT count(*) FROM etop.controls WHERE control_type = 'm365_secure_score') AS secure_score_controls,
       (SELECT count(*) FROM etop.risks WHERE risk_type = 'endpoint') AS endpoint_risks,
       (SELECT count(DISTINCT client_id) FROM (SELECT client_id FROM etop.users UNION ALL SELECT client_id FROM etop.controls
                                              UNION ALL SELECT client_id FROM etop.risks) x) AS clients,
       (SELECT external_id FROM etop.clients c WHERE c.id = (SELECT min(client_id) FROM etop.users)) AS client;
-- each user: valid email, Microsoft UPN, boolean MFA, risk level none/low/medium/high
SELECT count(*) AS users,
       count(*) FILTER (WHERE email ~ '^[A-Za-z0-9._%+''-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$') AS valid_email,
       count(*) FILTER (WHERE upn ~ '^[A-Za-z0-9._%+''#-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$') AS valid_upn,
       count(*) FILTER (WHERE upn LIKE '%#EXT#@%.onmicrosoft.com') AS guests,
       count(*) FILTER (WHERE mfa_enabled IN (true, false)) AS boolean_mfa,
       count(*) FILTER (WHERE risk_level IN ('none', 'low', 'medium', 'high')) AS valid_risk_level
  FROM etop.users;
SELECT count(*) FILTER (WHERE mfa_enabled) AS mfa, count(*) FILTER (WHERE NOT mfa_enabled) AS no_mfa,
       count(*) FILTER (WHERE NOT account_enabled) AS disabled, count(*) FILTER (WHERE last_sign_in IS NULL) AS never_signed_in
  FROM etop.users;
SELECT risk_level, count(*) FROM etop.users GROUP BY 1 ORDER BY 1;
-- risk: riskLevel, except a remediated / dismissed risk is none
SELECT u.upn, r.rec ->> 'riskLevel' AS risk_level_graph, r.rec ->> 'riskState' AS risk_state, u.risk_level
  FROM etop.sync_records(:m365_run, '{identityProtection/riskyUsers}') r
  JOIN etop.users u ON u.external_id = r.rec ->> 'id' ORDER BY u.upn;
-- MFA: isMfaCapable (registered and allowed by policy)
SELECT (r.rec ->> 'isMfaCapable')::boolean AS is_mfa_capable, u.mfa_enabled, count(*)
  FROM etop.sync_records(:m365_run, '{reports/authenticationMethods/userRegistrationDetails}') r
  JOIN etop.users u ON u.external_id = r.rec ->> 'id' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT external_id, display_name, email, upn, account_enabled, mfa_enabled, risk_level, last_sign_in
  FROM etop.users WHERE external_id IN ('00c0ffee-0000-4000-8000-000000000001', '00c0ffee-0000-4000-8000-00000000001c',
                                        '00c0ffee-0000-4000-8000-000000000047') ORDER BY 1;

-- the controls table contains 28 records with control_type m365_secure_score:
-- the profile's title and maxScore, the latest secure score's score
SELECT count(*) AS controls,
       count(*) FILTER (WHERE jsonb_typeof(evidence -> 'score') = 'number'
                          AND jsonb_typeof(evidence -> 'maxScore') = 'number') AS numeric_evidence,
       count(DISTINCT evidence ->> 'scoreDate') AS score_dates, min(evidence ->> 'scoreDate') AS score_date,
       sum((evidence ->> 'score')::numeric) AS current_score, sum((evidence ->> 'maxScore')::numeric) AS max_score
  FROM etop.controls WHERE control_type = 'm365_secure_score';
SELECT status, count(*) FROM etop.controls WHERE control_type = 'm365_secure_score' GROUP BY 1 ORDER BY 1;
SELECT count(*) FILTER (WHERE status <> CASE WHEN (evidence ->> 'score')::numeric >= (evidence ->> 'maxScore')::numeric THEN 'pass'
                                             WHEN (evidence ->> 'score')::numeric = 0 THEN 'fail' ELSE 'unknown' END)
       AS status_mismatches
  FROM etop.controls WHERE control_type = 'm365_secure_score';
SELECT external_id, title, status, evidence ->> 'score' AS score, evidence ->> 'maxScore' AS max_score,
       evidence ->> 'implementationStatus' AS implementation, evidence ->> 'controlCategory' AS category, last_checked
  FROM etop.controls WHERE external_id IN ('AdminMFAV2', 'MFARegistrationV2', 'IntegratedApps', 'scid_2090') ORDER BY 1;
SELECT jsonb_pretty(evidence) FROM etop.controls WHERE external_id = 'MFARegistrationV2';

-- the risks table contains 5 records with risk_type endpoint
SELECT r.external_id, r.risk_type, r.title, r.severity, r.likelihood, r.impact, r.status, d.name AS device,
       r.detected_at, r.resolved_at, r.mitigation IS NOT NULL AS has_mitigation
  FROM etop.risks r LEFT JOIN etop.devices d ON d.id = r.device_id ORDER BY r.detected_at;
SELECT description, mitigation FROM etop.risks ORDER BY detected_at DESC LIMIT 1;

-- The Risk score reads what was synced
SELECT s -> 'risk' -> 'breakdown' -> 'identity_risk' -> 'evidence' -> 'citations' AS identity_citations,
       s -> 'standards' -> 'breakdown' -> 'm365_secure_score' -> 'evidence' -> 'citations' AS secure_score_citations
  FROM etop.clients c, etop.etop_scores(c.id, '2026-01-15') s WHERE c.external_id = '250';

-- Idempotent: the same run again, and the same data in a later run, change nothing
CREATE TEMP TABLE digest1 AS SELECT pg_temp.m365_digest() AS d;
SELECT etop.normalize_m365(:m365_run) AS same_run_again;
SELECT pg_temp.m365_digest() = (SELECT d FROM digest1) AS unchanged;
SELECT etop.normalize_m365(pg_temp.run_with('test-m365',
           (SELECT jsonb_agg(jsonb_build_object('endpoint', endpoint, 'payload', payload) ORDER BY endpoint, page)
              FROM etop.sync_pages WHERE run_id = :m365_run))) AS later_run_same_data;
SELECT pg_temp.m365_digest() = (SELECT d FROM digest1) AS unchanged;

-- Incremental: only the changed records; nothing else is touched
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(
           jsonb_build_object('endpoint', 'identityProtection/riskyUsers', 'payload', jsonb_build_array(
               pg_temp.rec(:m365_run, 'identityProtection/riskyUsers', '00c0ffee-0000-4000-8000-000000000007')
                   || '{"riskState": "dismissed", "riskLevel": "none"}')),
           jsonb_build_object('endpoint', 'reports/authenticationMethods/userRegistrationDetails', 'payload', jsonb_build_array(
               pg_temp.rec(:m365_run, 'reports/authenticationMethods/userRegistrationDetails', '00c0ffee-0000-4000-8000-000000000004')
                   || '{"isMfaRegistered": true, "isMfaCapable": true}')),
           jsonb_build_object('endpoint', 'security/alerts_v2', 'payload', jsonb_build_array(
               pg_temp.rec(:m365_run, 'security/alerts_v2', 'da630000001-01f0-4c2f-9e1b-000000abc000')
                   || '{"status": "resolved", "resolvedDateTime": "2026-01-15T09:00:00.000Z", "classification": "truePositive"}',
               pg_temp.rec(:m365_run, 'security/alerts_v2', 'da630000005-01f4-4c2f-9e1b-000000abc004')
                   || '{"serviceSource": "microsoftDefenderForOffice365", "title": "Email messages containing malicious URL removed after delivery"}')))))
       AS incremental;
SELECT (SELECT count(*) FROM etop.users) AS users, (SELECT count(*) FROM etop.risks) AS risks,
       (SELECT count(*) FROM etop.controls) AS controls;
SELECT upn, mfa_enabled, risk_level FROM etop.users
 WHERE external_id IN ('00c0ffee-0000-4000-8000-000000000007', '00c0ffee-0000-4000-8000-000000000004') ORDER BY 1;
SELECT risk_type, title, status, resolved_at FROM etop.risks
 WHERE external_id IN ('da630000001-01f0-4c2f-9e1b-000000abc000', 'da630000005-01f4-4c2f-9e1b-000000abc004') ORDER BY 1;
-- a risk type map for other alert sources
UPDATE etop.connections SET options = '{"client_external_id": "250", "risk_type_map": {"microsoftDefenderForEndpoint": "business"}}'
 WHERE name = 'test-m365';
SELECT etop.normalize_m365(:m365_run) ->> 'risks' AS risks;
SELECT risk_type, count(*) FROM etop.risks GROUP BY 1 ORDER BY 1;
UPDATE etop.connections SET options = '{"client_external_id": "250"}' WHERE name = 'test-m365';
-- a deprecated control profile is left out (and reported)
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object(
           'endpoint', 'security/secureScoreControlProfiles', 'payload', jsonb_build_array(
               pg_temp.rec(:m365_run, 'security/secureScoreControlProfiles', 'OneAdmin') || '{"id": "OldControl", "deprecated": true}')))))
       AS deprecated_profile;
-- without a secure score the control's score is unknown
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object(
           'endpoint', 'security/secureScoreControlProfiles', 'payload', jsonb_build_array(
               pg_temp.rec(:m365_run, 'security/secureScoreControlProfiles', 'OneAdmin') || '{"id": "NewControl"}')))))
       ->> 'controls' AS controls;
SELECT external_id, status, evidence -> 'score' AS score, evidence -> 'maxScore' AS max_score
  FROM etop.controls WHERE external_id = 'NewControl';

-- Clear errors for malformed records, and nothing is written
SELECT pg_temp.m365_digest() AS d \gset before_
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object(
           'endpoint', 'users', 'payload', jsonb_build_array(
               pg_temp.rec(:m365_run, 'users', '00c0ffee-0000-4000-8000-000000000001') - 'accountEnabled')))));
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object(
           'endpoint', 'users', 'payload', jsonb_build_array(
               pg_temp.rec(:m365_run, 'users', '00c0ffee-0000-4000-8000-000000000002'),
               pg_temp.rec(:m365_run, 'users', '00c0ffee-0000-4000-8000-000000000001') || '{"id": ""}')))));
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object(
           'endpoint', 'users', 'payload', jsonb_build_array(
               jsonb_set(pg_temp.rec(:m365_run, 'users', '00c0ffee-0000-4000-8000-000000000001'),
                         '{signInActivity,lastSignInDateTime}', '"2026-01-15 25:00"'))))));
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object(
           'endpoint', 'reports/authenticationMethods/userRegistrationDetails', 'payload', jsonb_build_array(
               pg_temp.rec(:m365_run, 'reports/authenticationMethods/userRegistrationDetails', '00c0ffee-0000-4000-8000-000000000001')
                   - 'isMfaRegistered' - 'isMfaCapable')))));
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object(
           'endpoint', 'identityProtection/riskyUsers', 'payload', jsonb_build_array(
               pg_temp.rec(:m365_run, 'identityProtection/riskyUsers', '00c0ffee-0000-4000-8000-000000000007')
                   || '{"riskLevel": "extreme"}')))));
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object(
           'endpoint', 'security/secureScoreControlProfiles', 'payload', jsonb_build_array(
               pg_temp.rec(:m365_run, 'security/secureScoreControlProfiles', 'OneAdmin') || '{"maxScore": "1"}')))));
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object(
           'endpoint', 'security/secureScores', 'payload', jsonb_build_array(
               jsonb_set((SELECT r.rec FROM etop.sync_records(:m365_run, '{security/secureScores}') r ORDER BY r.rec ->> 'id' DESC LIMIT 1),
                         '{controlScores,3,score}', '"n/a"'))))));
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object(
           'endpoint', 'security/alerts_v2', 'payload', jsonb_build_array(
               pg_temp.rec(:m365_run, 'security/alerts_v2', 'da630000001-01f0-4c2f-9e1b-000000abc000') || '{"severity": "severe"}')))));
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object(
           'endpoint', 'security/alerts_v2', 'payload', jsonb_build_array(
               pg_temp.rec(:m365_run, 'security/alerts_v2', 'da630000001-01f0-4c2f-9e1b-000000abc000') || '{"status": "closed"}')))));
SELECT etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object(
           'endpoint', 'users', 'payload', '"not a page"'::jsonb))));
SELECT f.fault, f.endpoint, etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object('endpoint', f.endpoint, 'payload', f.payload))))
  FROM fault_pages f WHERE vendor = 'm365' AND fault = 'wrong-types' AND endpoint = 'users';
SELECT f.fault, f.endpoint, etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object('endpoint', f.endpoint, 'payload', f.payload))))
  FROM fault_pages f WHERE vendor = 'm365' AND fault = 'missing-fields' AND endpoint = 'users';
SELECT f.fault, f.endpoint, etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object('endpoint', f.endpoint, 'payload', f.payload))))
  FROM fault_pages f WHERE vendor = 'm365' AND fault = 'wrong-types' AND endpoint = 'security/alerts_v2';
SELECT f.fault, f.endpoint, etop.normalize_m365(pg_temp.run_with('test-m365', jsonb_build_array(jsonb_build_object('endpoint', f.endpoint, 'payload', f.payload))))
  FROM fault_pages f WHERE vendor = 'm365' AND fault = 'missing-fields' AND endpoint = 'security/alerts_v2';
SELECT pg_temp.m365_digest() = :'before_d' AS nothing_written;
ROLLBACK;
