-- The three scores against the spec's Gherkin scenarios ("Calculate Standards
-- Compliance Score", "Calculate Risk Score", "Calculate Experience Score").
SET search_path = etop, public;

-- Client "one" carries the Background data of all three features:
--   50 devices, 45 managed, 40 passing Immy, 42 patched (30 d), 48 with EDR, Secure Score 72%;
--   50 users, 45 with MFA, 2 high risk, 3 email alerts, 2 devices missing EDR, 1 open critical risk;
--   Q4 2025: 120 tickets, 108 met SLA, 5 reopened, 8 repeat issues, 12 after hours; Q3 2025: 150.
INSERT INTO clients (source, external_id, name, segment) VALUES
    ('test', 'one', 'Client One', 'A'), ('test', 'two', 'Client Two', 'B'),
    ('test', 'three', 'Client Three', 'C'), ('test', 'four', 'Client Four', 'D');
SELECT id AS one FROM clients WHERE external_id = 'one' \gset
SELECT id AS two FROM clients WHERE external_id = 'two' \gset
SELECT id AS three FROM clients WHERE external_id = 'three' \gset
SELECT id AS four FROM clients WHERE external_id = 'four' \gset

INSERT INTO devices (client_id, source, external_id, name, type, managed, last_patched_at,
                     edr_installed, edr_healthy)
SELECT :one, 'test', 'dev-' || i, 'WS-TEST-' || lpad(i::text, 2, '0'), 'endpoint', i <= 45,
       CASE WHEN i <= 42 THEN timestamptz '2025-12-26' ELSE timestamptz '2025-10-01' END,
       i <= 48, i <= 48
  FROM generate_series(1, 50) i;
INSERT INTO controls (client_id, device_id, source, external_id, control_type, title, status)
SELECT client_id, id, 'test', 'immy-' || external_id, 'immy_baseline', 'Workstation Baseline',
       CASE WHEN substr(external_id, 5)::int <= 40 THEN 'pass' ELSE 'fail' END
  FROM devices WHERE client_id = :one AND managed;
INSERT INTO controls (client_id, source, external_id, control_type, title, status, evidence) VALUES
    (:one, 'test', 'ss-1', 'm365_secure_score', 'MFA Enforcement', 'unknown', '{"score": 30, "maxScore": 40}'),
    (:one, 'test', 'ss-2', 'm365_secure_score', 'Safe Links', 'unknown', '{"score": 6, "maxScore": 10}');
INSERT INTO users (client_id, source, external_id, upn, mfa_enabled, risk_level)
SELECT :one, 'test', 'u' || i, 'user' || i || '@one.example', i <= 45,
       CASE WHEN i <= 2 THEN 'high' ELSE 'none' END
  FROM generate_series(1, 50) i;
INSERT INTO risks (client_id, source, external_id, risk_type, title, severity, likelihood, impact,
                   status, detected_at, resolved_at)
SELECT :one, 'test', 'mail-' || i, 'email', 'Phishing email ' || i, 'medium', 'medium', 'low',
       'mitigated', timestamptz '2025-11-01' + i * interval '1 day', timestamptz '2025-11-20'
  FROM generate_series(1, 3) i;
INSERT INTO risks (client_id, source, external_id, risk_type, title, severity, likelihood, impact,
                   status, detected_at) VALUES
    (:one, 'test', 'biz-1', 'business', 'No Tested Disaster Recovery Plan', 'critical', 'low', 'high',
     'open', '2025-10-05');
-- Q4 2025 tickets: 1-8 and 9-16 are the same category on the same 8 devices two weeks
-- apart (8 repeat issues); 108 met SLA, 5 reopened, 12 after hours.
INSERT INTO tickets (client_id, device_id, source, external_id, category, sla_met, reopen_count,
                     after_hours, created_date)
SELECT :one,
       CASE WHEN i <= 16 THEN (SELECT id FROM devices WHERE client_id = :one
                                  AND external_id = 'dev-' || ((i - 1) % 8 + 1)) END,
       'test', 'q4-' || i, CASE WHEN i <= 16 THEN 'Printer' ELSE 'Category ' || (i % 11) END,
       i > 12, CASE WHEN i BETWEEN 50 AND 54 THEN 1 ELSE 0 END, i BETWEEN 100 AND 111,
       CASE WHEN i <= 8 THEN timestamptz '2025-11-01' WHEN i <= 16 THEN timestamptz '2025-11-15'
            ELSE timestamptz '2025-10-01' + (i % 80) * interval '1 day' END
  FROM generate_series(1, 120) i;
INSERT INTO tickets (client_id, source, external_id, category, sla_met, created_date)
SELECT :one, 'test', 'q3-' || i, 'Category ' || (i % 7), true,
       timestamptz '2025-07-01' + (i % 90) * interval '1 day'
  FROM generate_series(1, 150) i;

-- Scores without the per-call timestamp.
CREATE FUNCTION pg_temp.s(doc jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT doc #- '{standards,computed_at}' #- '{risk,computed_at}' #- '{experience,computed_at}' #- '{computed_at}'
$$;

-- Scenario: Calculate Standards score with all data present
SELECT (s->'standards'->>'score')::int AS standards, (s->'standards'->>'score')::int BETWEEN 80 AND 85 AS in_80_85
  FROM etop_scores(:one, '2025-12-31') s;
SELECT b.key AS component, (b.value->>'weight')::numeric * 100 || '%' AS weight,
       b.value->>'score' AS score, b.value->'evidence'->'citations' AS citations
  FROM jsonb_each(etop_scores(:one, '2025-12-31')->'standards'->'breakdown') b ORDER BY b.key;
SELECT count(*) FILTER (WHERE jsonb_typeof(b.value->'evidence') = 'object') AS components_with_evidence
  FROM jsonb_each(etop_scores(:one, '2025-12-31')->'standards'->'breakdown') b;

-- Scenario: Insufficient data for Standards score
SELECT jsonb_pretty(pg_temp.s(etop.standards_score(:two, '2025-12-31')));

-- Scenario: Calculate Risk score with good security posture
SELECT (s->'risk'->>'score')::int AS risk, (s->'risk'->>'score')::int BETWEEN 10 AND 20 AS in_10_20,
       s->'risk'->>'level' AS level
  FROM etop_scores(:one, '2025-12-31') s;
SELECT b.key AS component, (b.value->>'weight')::numeric * 100 || '%' AS weight,
       b.value->>'score' AS score, b.value->>'level' AS risk_level
  FROM jsonb_each(etop_scores(:one, '2025-12-31')->'risk'->'breakdown') b ORDER BY b.key;
SELECT jsonb_array_elements_text(etop.risk_score(:one, '2025-12-31')->'breakdown'->'identity_risk'->'evidence'->'citations')
       AS identity_citations;

-- Scenario: Calculate Risk score with poor MFA coverage
INSERT INTO users (client_id, source, external_id, upn, mfa_enabled)
SELECT :three, 'test', 'u' || i, 'user' || i || '@three.example', i <= 30 FROM generate_series(1, 100) i;
SELECT (b->>'score')::numeric AS identity_risk, (b->>'score')::numeric >= 50 AS high_risk,
       b->>'level' AS level, b->'evidence'->'citations'->>0 AS citation
  FROM (SELECT etop.risk_score(:three, '2025-12-31')->'breakdown'->'identity_risk' AS b) x;

-- Scenario: Calculate Experience score with improving trend
SELECT (s->'experience'->>'score')::int AS experience,
       (s->'experience'->>'score')::int BETWEEN 75 AND 85 AS in_75_85
  FROM etop_scores(:one, '2025-12-31') s;
SELECT b.key AS component, b.value->>'score' AS score, b.value->'evidence'->'citations' AS citations
  FROM jsonb_each(etop_scores(:one, '2025-12-31')->'experience'->'breakdown') b ORDER BY b.key;
SELECT (b->>'score')::numeric >= 85 AS sla_at_least_85
  FROM (SELECT etop.experience_score(:one, '2025-12-31')->'breakdown'->'sla_performance' AS b) x;

-- Scenario: High reopen rate lowers Experience score
INSERT INTO tickets (client_id, source, external_id, category, sla_met, reopen_count, created_date)
SELECT :two, 'test', 't' || i, 'Email', true, CASE WHEN i <= 15 THEN 1 ELSE 0 END,
       timestamptz '2025-10-10' + i * interval '1 day'
  FROM generate_series(1, 40) i;
SELECT (b->>'score')::numeric AS reopen_score, (b->>'score')::numeric <= 30 AS at_most_30,
       b->'evidence'->'citations'->>0 AS citation
  FROM (SELECT etop.experience_score(:two, '2025-12-31')->'breakdown'->'reopen_rate' AS b) x;
-- no previous quarter: the trend is reported missing and its weight redistributed
SELECT b.key, b.value->>'missing' AS missing, b.value->>'effective_weight' AS effective_weight
  FROM jsonb_each(etop.experience_score(:two, '2025-12-31')->'breakdown') b ORDER BY b.key;

-- A missing source is never scored 0 or 100: client four has devices but no Immy.Bot or
-- Microsoft 365 data, so those weights go to the components that are present.
INSERT INTO devices (client_id, source, external_id, name, managed, last_patched_at, edr_installed, edr_healthy)
SELECT :four, 'test', 'd' || i, 'SRV-' || i, true, timestamptz '2025-12-20', true, i <= 5
  FROM generate_series(1, 10) i;
SELECT s->>'score' AS standards, b.key, b.value->>'score' AS score, b.value->>'missing' AS missing,
       b.value->>'effective_weight' AS effective_weight, b.value->'evidence'->'citations'->>0 AS note
  FROM (SELECT etop.standards_score(:four, '2025-12-31') AS s) x, jsonb_each(s->'breakdown') b ORDER BY b.key;
-- no users and no M365 data: identity and email risk are missing too
SELECT b.key, b.value->>'missing' AS missing, b.value->>'score' AS score
  FROM jsonb_each(etop.risk_score(:four, '2025-12-31')->'breakdown') b ORDER BY b.key;
-- no data at all
SELECT k AS score, s->k->>'score' AS value, s->k->>'error' AS error
  FROM etop_scores(:two, '2024-01-01') s, unnest(ARRAY['standards', 'risk', 'experience']) k;
-- a vendor number beyond what rounding to cents survives (a Secure Score of
-- 1e307) still gives a document: was "invalid input syntax for type json"
INSERT INTO clients (source, external_id, name) VALUES ('test', 'huge', 'Client Huge');
INSERT INTO controls (client_id, source, external_id, control_type, title, evidence)
SELECT id, 'test', 'ss-huge', 'm365_secure_score', 'Huge', '{"score": 1e307, "maxScore": 1}'
  FROM clients WHERE external_id = 'huge';
INSERT INTO devices (client_id, source, external_id, name, managed)
SELECT id, 'test', 'd-huge', 'WS-HUGE', true FROM clients WHERE external_id = 'huge';
SELECT b->>'score' AS score, (b->'evidence'->>'current_score')::float8 AS current_score,
       b->'evidence'->'max_score' AS max_score
  FROM clients c, etop_scores(c.id, '2025-12-31') s, LATERAL (SELECT s->'standards'->'breakdown'->'m365_secure_score') x(b)
 WHERE c.external_id = 'huge';
DELETE FROM clients WHERE external_id = 'huge';

-- Reproducible for a given as_of; an in-progress quarter is projected.
SELECT pg_temp.s(etop_scores(:one, '2025-12-31')) = pg_temp.s(etop_scores(:one, '2025-12-31')) AS reproducible;
SELECT etop.experience_score(:one, '2025-11-15')->'breakdown'->'tickets_per_user_trend'->'evidence'->'citations'
       AS partial_quarter;

-- Snapshots and movement: idempotent per client and quarter.
SELECT etop.snapshot_scores('2025-09-30') AS stored;
SELECT etop.snapshot_scores('2025-09-15') AS stored_again;
SELECT c.external_id, h.quarter, h.as_of, h.standards, h.risk, h.experience
  FROM score_history h JOIN clients c ON c.id = h.client_id ORDER BY 1, 2;
UPDATE score_history SET standards = 79, risk = 20 WHERE client_id = :one AND quarter = 'Q3 2025';
SELECT s->'standards'->'movement'->>'text' AS standards, s->'risk'->'movement'->>'text' AS risk,
       s->'experience'->'movement' AS experience
  FROM etop_scores(:one, '2025-12-31') s;
-- a stored NaN (numeric allows it) is no previous score: was "invalid input
-- syntax for type json" ("previous": nan) for the whole document
UPDATE score_history SET standards = 'NaN' WHERE client_id = :one AND quarter = 'Q3 2025';
SELECT s->'standards'->'movement' AS standards, s->'risk'->'movement'->>'text' AS risk
  FROM etop_scores(:one, '2025-12-31') s;
UPDATE score_history SET standards = 79 WHERE client_id = :one AND quarter = 'Q3 2025';

-- Errors
SELECT etop_scores(-1);
SELECT etop.risk_score(NULL) IS NULL AS strict;
SELECT etop_scores(:one, 'infinity');

-- BI views and row-level security: an account manager scores only its clients.
CREATE ROLE etop_test_am IN ROLE etop_am;
INSERT INTO client_assignments (client_id, am_role) VALUES (:one, 'etop_test_am');
SET ROLE etop_test_am;
SELECT name, segment, standards IS NOT NULL AS has_standards FROM etop.client_scores;
SELECT count(DISTINCT client_id) AS clients, count(*) AS components FROM etop.score_components;
SELECT count(*) AS visible_scores_of_two FROM clients c, etop_scores(c.id) WHERE c.external_id = 'two';
SELECT set_config('etop_test.two', :'two', false) IS NOT NULL AS noted;
DO $$
BEGIN
    PERFORM etop.etop_scores(current_setting('etop_test.two')::int);
EXCEPTION WHEN no_data_found THEN
    RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, '[0-9]+', 'N');
END $$;
RESET ROLE;
SELECT name, score, component, missing FROM etop.score_components
 WHERE client_id = :four AND score = 'standards' ORDER BY component;
DELETE FROM client_assignments;
DROP ROLE etop_test_am;
DELETE FROM clients;
