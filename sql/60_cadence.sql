-- QBR cadence (spec "Client Segmentation for QBR Cadence"), the QBR queue's
-- entry points, the daily due-for-QBR check and scheduling without pg_cron.
--
-- Everything runs in one transaction that is rolled back at the end, so the
-- spec's clients can have ids 1-4 whatever earlier tests left behind;
-- ON_ERROR_ROLLBACK keeps the transaction going past the expected errors.
\set ON_ERROR_ROLLBACK on
\set SHOW_CONTEXT never
BEGIN;
SET LOCAL DateStyle = 'ISO, YMD';
DELETE FROM etop.clients;
INSERT INTO etop.clients (id, source, external_id, name, segment, last_qbr_date) VALUES
    (1,  'test', 'c1',  'Contoso',          'A',  '2025-10-01'),  -- the spec's four clients
    (2,  'test', 'c2',  'Fabrikam',         'B',  '2025-10-01'),
    (3,  'test', 'c3',  'Northwind',        'C',  '2025-07-01'),
    (4,  'test', 'c4',  'Tailspin',         'D',  '2024-10-01'),
    (5,  'test', 'c5',  'Unsegmented Inc',  NULL, '2025-10-01'),  -- no segment
    (6,  'test', 'c6',  'Brand New LLC',    'C',  NULL),          -- never had a QBR
    (7,  'test', 'c7',  'Month End Co',     'B',  '2025-08-31'),  -- Aug 31 -> Nov 30
    (8,  'test', 'c8',  'Not Due Yet',      'D',  '2025-12-01'),
    (9,  'test', 'c9',  'Leap Day Ltd',     'D',  '2024-02-29'),  -- Feb 29 -> Feb 28
    (10, 'test', 'c10', 'Due Today',        'A',  '2025-10-15'),  -- next due = as_of
    (11, 'test', 'c11', 'Due Tomorrow',     'A',  '2025-10-16');

-- Scenario: Segment A/B clients are due for quarterly QBR
SELECT explanation FROM etop.due_for_qbr('2026-01-15') WHERE client_id IN (1, 2) ORDER BY client_id;
-- Scenario: Segment C clients are due for semiannual QBR
SELECT explanation FROM etop.due_for_qbr('2026-01-15') WHERE client_id = 3;
-- Scenario: Segment D clients are due for annual QBR
SELECT explanation FROM etop.due_for_qbr('2026-01-15') WHERE client_id = 4;
-- Every due client, most overdue first; 8 and 11 are not due yet
SELECT * FROM etop.due_for_qbr('2026-01-15');

-- The arithmetic: month-end clamping, leap days, no last QBR, infinity
SELECT etop.qbr_next_due('2025-08-31', 'A') AS aug31_q, etop.qbr_next_due('2025-11-30', 'B') AS nov30_q,
       etop.qbr_next_due('2023-11-30', 'A') AS to_leap_feb, etop.qbr_next_due('2025-08-31', 'C') AS aug31_s,
       etop.qbr_next_due('2024-02-29', 'D') AS feb29_a, etop.qbr_next_due('2024-02-29', NULL) AS feb29_noseg,
       etop.qbr_next_due(NULL, 'A') AS never, etop.qbr_next_due('infinity', 'D') AS inf;
SELECT s AS segment, etop.qbr_cadence(s) AS cadence
  FROM unnest(ARRAY['A', 'B', 'C', 'D', 'd', '', NULL]) s;
SELECT etop.qbr_cadence('E');
SELECT etop.qbr_next_due('2025-01-01', 'AB');
SELECT etop.qbr_next_due('5874897-10-01', 'D');
SELECT * FROM etop.qbr_cadence_status(1, 'A', '2025-10-01', NULL, 14);
SELECT * FROM etop.qbr_cadence_status(1, 'A', '2025-10-01', '2026-01-15', -1);
SELECT * FROM etop.due_for_qbr(NULL);

-- Grace: due from next_due on, overdue only after next_due + qbr_grace_days (14)
SELECT etop.qbr_grace_days() AS grace_days;
SELECT d::date AS as_of, coalesce(q.overdue::text, 'not due') AS client_1,
       coalesce(t.overdue::text, 'not due') AS client_10, coalesce(u.overdue::text, 'not due') AS client_11
  FROM generate_series('2025-12-31'::date, '2026-01-30', '1 day') d
  LEFT JOIN LATERAL (SELECT overdue FROM etop.due_for_qbr(d::date) WHERE client_id = 1) q ON true
  LEFT JOIN LATERAL (SELECT overdue FROM etop.due_for_qbr(d::date) WHERE client_id = 10) t ON true
  LEFT JOIN LATERAL (SELECT overdue FROM etop.due_for_qbr(d::date) WHERE client_id = 11) u ON true
 WHERE d::date IN ('2025-12-31', '2026-01-01', '2026-01-14', '2026-01-15', '2026-01-16', '2026-01-29',
                   '2026-01-30');
-- without grace, a day late is overdue
SELECT etop.setting_set('qbr_grace_days', '0');
SELECT client_id, overdue FROM etop.due_for_qbr('2026-01-02') WHERE client_id IN (1, 2) ORDER BY 1;
SELECT etop.setting_set('qbr_grace_days', '"two weeks"');
SELECT count(*) FROM etop.due_for_qbr('2026-01-15');
SELECT etop.setting_set('qbr_grace_days', NULL) AS grace_restored;

-- The calendar shows every client (due or not) as of today, for BI tools
SELECT client_id, segment, cadence, last_qbr_date,
       CASE WHEN last_qbr_date IS NULL THEN (next_due = current_date)::text ELSE next_due::text END AS next_due,
       overdue_after - next_due AS grace, days_until_due = next_due - current_date AS days_ok,
       latest_job_status
  FROM etop.qbr_calendar ORDER BY client_id;

-- qbr_generate / qbr_status: the job id, status and poll message, and each state's shape
CREATE FUNCTION pg_temp.masked(j jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(j::text,
               '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g'),
               '"\d{4}-\d\d-\d\dT[^"]*"', '"<timestamp>"', 'g')
$$;

-- errors whose text varies (a job id, the server's pg_cron configuration) as rows
CREATE FUNCTION pg_temp.error_of(cmd text) RETURNS TABLE (code text, message text, hint text, detail_ok boolean)
LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
    EXECUTE cmd;
    code := 'no error';
    RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            hint = PG_EXCEPTION_HINT, d = PG_EXCEPTION_DETAIL;
    message := pg_temp.masked(to_jsonb(message))::jsonb #>> '{}';
    detail_ok := d LIKE 'pg_cron %';
    RETURN NEXT;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.masked(jsonb), pg_temp.error_of(text) TO etop_am, etop_reader;
SELECT pg_temp.masked(etop.qbr_generate(6)) AS generated;
SELECT r->>'message' = format('QBR generation started. Poll etop.qbr_status(''%s'') for status.', r->>'job_id')
       AS message_names_the_job
  FROM etop.qbr_generate(8, '{"note": "manual"}') r;
SELECT id AS job8 FROM etop.qbr_jobs WHERE client_id = 8 \gset
SELECT client_id, status, options, requested_by = current_user AS requested_by_me
  FROM etop.qbr_jobs ORDER BY client_id;
SELECT pg_temp.masked(etop.qbr_status(:'job8')) AS queued;
UPDATE etop.qbr_jobs SET status = 'active', attempts = 1, started_at = now(),
       progress = 'Generating narrative (step 2/4)' WHERE id = :'job8';
SELECT pg_temp.masked(etop.qbr_status(:'job8')) AS active;
UPDATE etop.qbr_jobs SET status = 'retry', error = 'OpenAI API timeout after 3 retries',
       run_after = now() + interval '30 seconds' WHERE id = :'job8';
SELECT pg_temp.masked(etop.qbr_status(:'job8')) AS retry;
INSERT INTO etop.qbrs (client_id, job_id, period, as_of, pdf_path)
VALUES (8, :'job8', 'Q4 2025', '2026-01-15', '/outputs/qbr-client-8.pdf') RETURNING id AS qbr8 \gset
UPDATE etop.qbr_jobs SET status = 'completed', qbr_id = :qbr8, completed_at = now() WHERE id = :'job8';
SELECT pg_temp.masked(etop.qbr_status(:'job8') - 'qbr_id') AS completed,
       (etop.qbr_status(:'job8')->>'qbr_id')::int = :qbr8 AS qbr_id_is_the_draft;
UPDATE etop.qbr_jobs SET status = 'failed', qbr_id = NULL, human_review = true,
       error = 'Hallucination detected: Device "FW-MAIN-99" cited in evidence but not found in database'
 WHERE id = :'job8';
SELECT pg_temp.masked(etop.qbr_status(:'job8')) AS failed;
-- clear errors
SELECT etop.qbr_generate(999);
SELECT etop.qbr_generate(NULL);
SELECT etop.qbr_generate(1, '[1, 2]');
SELECT etop.qbr_status('00000000-0000-0000-0000-000000000000');

-- The daily check enqueues one job per due client: not client 6 (a job is
-- already queued), not client 5 (a draft newer than its last QBR awaits review)
INSERT INTO etop.qbrs (client_id, period, as_of) VALUES (5, 'Q4 2025', '2026-01-10');
SELECT client_id, pg_temp.masked(to_jsonb(job_id)) AS job_id, next_due, overdue
  FROM etop.run_qbr_check('2026-01-15');
SELECT options FROM etop.qbr_jobs WHERE client_id = 1;
-- running it again creates nothing twice; the next day only client 11, due from then on
SELECT count(*) AS second_run FROM etop.run_qbr_check('2026-01-15');
SELECT client_id AS next_day FROM etop.run_qbr_check('2026-01-16');
SELECT count(*) AS third_run FROM etop.run_qbr_check('2026-01-16');
SELECT client_id, count(*) AS jobs FROM etop.qbr_jobs GROUP BY 1 HAVING count(*) > 1;
-- A job that completed (its draft then rejected) or failed is not retried
-- daily in the same cycle; a client's jobs in flight block it too.
UPDATE etop.qbr_jobs SET status = 'completed' WHERE client_id = 1;
UPDATE etop.qbr_jobs SET status = 'failed', human_review = true WHERE client_id = 2;
UPDATE etop.qbr_jobs SET status = 'active' WHERE client_id = 3;
UPDATE etop.qbr_jobs SET status = 'retry' WHERE client_id = 7;
SELECT count(*) AS after_outcomes FROM etop.run_qbr_check('2026-01-20');

-- Approval moves the cadence: last_qbr_date becomes the approval date
INSERT INTO etop.qbrs (client_id, period, as_of) VALUES (4, 'Q4 2025', '2026-01-15') RETURNING id AS qbr4 \gset
UPDATE etop.qbrs SET status = 'approved', reviewed_by = 'am_tester',
       reviewed_at = '2026-01-19 15:00:00' WHERE id = :qbr4;
SELECT last_qbr_date, etop.qbr_next_due(last_qbr_date, segment) AS next_due FROM etop.clients WHERE id = 4;
SELECT action, entity, entity_id, role, before, after - 'qbr_id' AS after, (after->>'qbr_id')::int = :qbr4 AS names_qbr
  FROM etop.audit_log WHERE action = 'cadence_advance' AND entity_id = '4';
-- a second update of an approved QBR is refused (a reviewed QBR cannot change); last_qbr_date never moves backwards
UPDATE etop.qbrs SET status = 'approved', reviewed_at = '2026-02-01' WHERE id = :qbr4;
INSERT INTO etop.qbrs (client_id, period, as_of, status, reviewed_at)
VALUES (4, 'Q3 2025', '2025-10-01', 'approved', '2025-10-05');
SELECT last_qbr_date FROM etop.clients WHERE id = 4;
-- approval without a recorded review time counts as today; a draft or rejection changes nothing
UPDATE etop.clients SET last_qbr_date = '2025-10-01' WHERE id = 2;
INSERT INTO etop.qbrs (client_id, period, as_of) VALUES (2, 'Q4 2025', '2026-01-15') RETURNING id AS qbr2 \gset
UPDATE etop.qbrs SET status = 'rejected' WHERE id = :qbr2;
SELECT last_qbr_date FROM etop.clients WHERE id = 2;
-- (a rejected QBR stays rejected: the review guard refuses it with 55000)
\set VERBOSITY sqlstate
UPDATE etop.qbrs SET status = 'approved' WHERE id = :qbr2;
\set VERBOSITY default
INSERT INTO etop.qbrs (client_id, period, as_of) VALUES (2, 'Q4 2025', '2026-01-15') RETURNING id AS qbr2b \gset
UPDATE etop.qbrs SET status = 'approved' WHERE id = :qbr2b;
SELECT last_qbr_date = current_date AS approved_today FROM etop.clients WHERE id = 2;
-- a new cycle starts: client 2 (its old job failed) is enqueued again once due
UPDATE etop.clients SET last_qbr_date = '2025-10-20' WHERE id = 2;
SELECT client_id, next_due FROM etop.run_qbr_check('2026-01-21') WHERE client_id = 2;

-- Account managers: only their clients, only through qbr_generate's columns
CREATE ROLE etop_test_cad_am IN ROLE etop_am;
CREATE ROLE etop_test_cad_bi IN ROLE etop_reader;
INSERT INTO etop.client_assignments (client_id, am_role) VALUES (10, 'etop_test_cad_am');
DELETE FROM etop.qbr_jobs WHERE client_id = 10;
SET ROLE etop_test_cad_am;
SELECT client_id, explanation FROM etop.due_for_qbr('2026-01-15');
SELECT client_id, cadence FROM etop.qbr_calendar;
SELECT pg_temp.masked(etop.qbr_generate(10)) AS own_client;
SELECT etop.qbr_generate(1);
SELECT code, message FROM pg_temp.error_of(format('SELECT etop.qbr_status(%L)', :'job8'));
INSERT INTO etop.qbr_jobs (client_id) VALUES (1);
INSERT INTO etop.qbr_jobs (client_id, status) VALUES (10, 'completed');
SELECT count(*) FROM etop.run_qbr_check('2026-01-15');
SELECT etop.schedule_qbr_check();
RESET ROLE;
SELECT client_id, status, requested_by FROM etop.qbr_jobs WHERE client_id = 10;
SET ROLE etop_test_cad_bi;
SELECT count(*) AS reader_sees_calendar FROM etop.qbr_calendar;
SELECT etop.qbr_generate(10);
RESET ROLE;

-- Scheduling needs pg_cron in this database; without it every scheduling
-- function says what is missing and how to fix it (the detail depends on
-- the server's configuration, so it is only checked for its subject)
SELECT * FROM pg_temp.error_of('SELECT etop.schedule_qbr_check()');
SELECT code, message, detail_ok FROM pg_temp.error_of('SELECT etop.schedule_qbr_check(''* * * * *'')');
SELECT code, message, detail_ok FROM pg_temp.error_of('SELECT etop.schedule_score_snapshots(''0 5 * * *'')');
SELECT code, message, detail_ok FROM pg_temp.error_of('SELECT etop.schedule_sync(''cw-main'', ''*/30 * * * *'')');
SELECT code, message, detail_ok FROM pg_temp.error_of('SELECT etop.unschedule(''qbr-check'')');
-- the schedules view works (and is empty) without pg_cron
SELECT count(*) AS schedules FROM etop.schedules;

ROLLBACK;
SELECT count(*) AS clients_left FROM etop.clients WHERE source = 'test';
