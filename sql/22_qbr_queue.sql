-- The QBR queue and the human approval gate, driven step by step in this
-- session (the background workers call the same functions; see
-- tests/integration/qbr_worker.sh for them).
SET search_path = etop, etop_internal, public;
SET client_min_messages = error;   -- job_fail() warns with job ids; the rows below show the outcome
SELECT demo_seed(3, 1, '2026-01-15') IS NOT NULL AS seeded;
SELECT id AS c1 FROM clients WHERE external_id = 'DEMO-00001' \gset
SELECT id AS c2 FROM clients WHERE external_id = 'DEMO-00002' \gset

-- Nothing to claim yet.
SELECT (job_claim()).id IS NULL AS nothing_to_do;

-- A job goes queued -> active -> completed and leaves a draft QBR.
INSERT INTO qbr_jobs (client_id, options) VALUES (:c1, '{"as_of": "2026-01-15"}') RETURNING id AS job1 \gset
SELECT status, progress, attempts FROM qbr_jobs WHERE id = :'job1';
SELECT id = :'job1' AS claimed, status, attempts, as_of, worker_pid = pg_backend_pid() AS mine FROM job_claim();
SELECT (job_claim()).id IS NULL AS claimed_only_once;
SELECT job_progress(:'job1', 2);
SELECT progress FROM qbr_jobs WHERE id = :'job1';
SELECT qbr_run_job(:'job1') AS final_status;
SELECT j.status, j.progress, j.provider, j.error, q.status AS qbr_status, q.period,
       jsonb_array_length(q.narrative->'recommendations') BETWEEN 3 AND 7 AS recommendations_ok,
       q.scores->'standards'->>'score' IS NOT NULL AS has_scores
  FROM qbr_jobs j JOIN qbrs q ON q.id = j.qbr_id WHERE j.id = :'job1';
SELECT qbr_id AS qbr1 FROM qbr_jobs WHERE id = :'job1' \gset

-- A hallucinated citation fails the job at once for human review (no retries).
INSERT INTO qbr_jobs (client_id, options) VALUES (:c1, '{"as_of": "2026-01-15", "provider": "test"}')
RETURNING id AS job2 \gset
SELECT (job_claim()).id = :'job2' AS claimed;
SELECT qbr_step(:'job2', 1);
SELECT job_store_narrative(:'job2',
  '{"executive_summary": "x", "recommendations": [{"title": "Replace aging firewall",
    "description": "Device FW-MAIN-99 is end-of-life", "evidence": ["[Device: FW-MAIN-99]"]}]}',
  '{"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500}');
SELECT qbr_step(:'job2', 2) AS narrative_ok, qbr_step(:'job2', 3) AS citations_ok;
SELECT status, error, human_review, attempts, violations->0->>'citation' AS citation, token_usage
  FROM qbr_jobs WHERE id = :'job2';

-- Errors retry with exponential backoff, then fail for good (the dead letter).
INSERT INTO qbr_jobs (client_id, options) VALUES (:c2, '{"as_of": "2026-01-15"}') RETURNING id AS job3 \gset
SELECT (job_claim()).id = :'job3' AS claimed;
SELECT job_fail(:'job3', 'OpenAI API timeout after 3 retries') AS after_attempt_1;
SELECT status, attempts, round(extract(epoch FROM run_after - now())) AS retry_in_s, progress
  FROM qbr_jobs WHERE id = :'job3';
UPDATE qbr_jobs SET run_after = now() WHERE id = :'job3';
SELECT (job_claim()).attempts AS attempt;
SELECT job_fail(:'job3', 'OpenAI API timeout after 3 retries') AS after_attempt_2;
SELECT round(extract(epoch FROM run_after - now())) AS retry_in_s FROM qbr_jobs WHERE id = :'job3';
UPDATE qbr_jobs SET run_after = now() WHERE id = :'job3';
SELECT (job_claim()).attempts AS attempt;
SELECT job_fail(:'job3', 'OpenAI API timeout after 3 retries') AS after_attempt_3;
SELECT status, attempts, error, human_review, completed_at IS NOT NULL AS kept FROM qbr_jobs WHERE id = :'job3';
SELECT (job_claim()).id IS NULL AS failed_jobs_are_not_claimed;

-- A job whose worker lives but hangs is claimed again after the visibility
-- timeout, not before, and that counts as an attempt.
INSERT INTO qbr_jobs (client_id) VALUES (:c2) RETURNING id AS job4 \gset
SELECT (job_claim('1 hour')).id = :'job4' AS claimed;
SELECT (job_claim()).id IS NULL AS not_before_timeout;
UPDATE qbr_jobs SET locked_until = now() - interval '1 second' WHERE id = :'job4';
SELECT id = :'job4' AS reclaimed_after_lease, attempts, interruptions FROM job_claim();
-- A job whose worker process is gone (killed, or the server restarted) is
-- claimed again at once, under the same attempt number: the lost attempt is
-- an interruption, not a failure of the job.
UPDATE qbr_jobs SET worker_pid = 0 WHERE id = :'job4';
SELECT id = :'job4' AS reclaimed_at_once, attempts, interruptions, progress FROM job_claim();
-- the worker that lost its job cannot complete or fail it any more
UPDATE qbr_jobs SET worker_pid = 0 WHERE id = :'job4';
\set VERBOSITY sqlstate
SELECT qbr_step(:'job4', 1);
\set VERBOSITY default
SELECT job_fail(:'job4', 'late') AS ignored, (SELECT status FROM qbr_jobs WHERE id = :'job4');
-- a finished job is never re-opened by a late failure
SELECT job_fail(:'job1', 'late') AS completed_stays, job_fail(:'job3', 'late') AS failed_stays;
SELECT status, attempts FROM qbr_jobs WHERE id IN (:'job1', :'job3') ORDER BY status;
-- a job interrupted on every attempt (it may be what kills its worker) is
-- stopped for a human, not retried forever
UPDATE qbr_jobs SET interruptions = max_attempts - 1, worker_pid = 0 WHERE id = :'job4';
SELECT (job_claim()).id IS NULL AS not_claimed_again;
SELECT status, attempts, interruptions, human_review, error FROM qbr_jobs WHERE id = :'job4';
-- so is one whose live worker outlived the lease on every attempt
INSERT INTO qbr_jobs (client_id) VALUES (:c2) RETURNING id AS job5 \gset
SELECT (job_claim()).id = :'job5' AS claimed;
UPDATE qbr_jobs SET attempts = max_attempts, locked_until = now() - interval '1 second' WHERE id = :'job5';
SELECT (job_claim()).id IS NULL AS not_claimed_again;
SELECT status, attempts, interruptions, human_review, error FROM qbr_jobs WHERE id = :'job5';
-- queuing a job wakes the workers: a notification at commit on etop_qbr_jobs
SELECT tgname, tgtype FROM pg_trigger WHERE tgrelid = 'etop.qbr_jobs'::regclass AND tgname = 'qbr_jobs_wake';

-- A bad as_of is refused to whoever enqueues it (it could otherwise block every claim).
SELECT qbr_generate(:c1, '{"as_of": "next tuesday"}');
INSERT INTO qbr_jobs (client_id, options) VALUES (:c1, '{"as_of": "2026-02-30"}');

-- The approval gate: drafts only, by an assigned account manager, audited.
CREATE ROLE etop_test_am1 IN ROLE etop_am;
CREATE ROLE etop_test_am2 IN ROLE etop_am;
INSERT INTO client_assignments (client_id, am_role) VALUES (:c1, 'etop_test_am1'), (:c2, 'etop_test_am2');
SET ROLE etop_test_am2;
SELECT qbr_approve(:qbr1);                     -- not assigned: invisible
UPDATE qbrs SET status = 'approved' WHERE id = :qbr1;
RESET ROLE;
SET ROLE etop_test_am1;
SELECT qbr_reject(:qbr1, '  ');
SELECT qbr_approve(:qbr1, 'Reviewed with the vCIO') - 'reviewed_at' - 'qbr_id' - 'client_id' AS approved;
SELECT qbr_reject(:qbr1, 'changed my mind');    -- approved is final
UPDATE qbrs SET narrative = '{}' WHERE id = :qbr1;   -- only status and note may change
-- a reviewed QBR stays as reviewed: rewriting the note (which used to make the
-- writer its reviewer) is refused, even for the reviewer, even for an admin
UPDATE qbrs SET review_note = 'rewritten later' WHERE id = :qbr1;
RESET ROLE;
SET ROLE etop_test_am2;
UPDATE qbrs SET review_note = 'not even mine' WHERE id = :qbr1;   -- not assigned: no row
RESET ROLE;
SET ROLE etop_admin;
UPDATE qbrs SET review_note = 'admin edit', reviewed_by = 'someone_else' WHERE id = :qbr1;
UPDATE qbrs SET pdf = NULL WHERE id = :qbr1;
UPDATE qbrs SET pdf_path = '/srv/qbr/1.pdf' WHERE id = :qbr1;    -- where the worker wrote the file: allowed
RESET ROLE;
SELECT status, review_note, reviewed_by, pdf IS NOT NULL AS has_pdf, pdf_path FROM qbrs WHERE id = :qbr1;
SELECT action, role, before, after - 'job_id' AS after FROM audit_log WHERE entity = 'qbr' AND entity_id = :'qbr1' ORDER BY id;
-- every event is in etop.qbr_events (and was sent on etop_qbr with its id);
-- no role may write the table, so a forged NOTIFY cannot be backed by a row
SELECT event, client_id = :c1 AS c1, qbr_id = :qbr1 AS is_qbr1 FROM qbr_events
 WHERE qbr_id = :qbr1 OR (event IN ('job_failed', 'human_review') AND client_id = :c1) ORDER BY id;
SELECT event, count(*) FROM qbr_events GROUP BY 1 ORDER BY 1;
SET ROLE etop_admin;
INSERT INTO qbr_events (event, client_id) VALUES ('draft_ready', :c1);
UPDATE qbr_events SET event = 'qbr_approved';
DELETE FROM qbr_events;
RESET ROLE;
SET ROLE etop_test_am2;                                   -- sees only its client's events
SELECT count(*) FILTER (WHERE client_id <> :c2) AS other_clients_events FROM qbr_events;
RESET ROLE;
SELECT count(*) AS published FROM qbrs WHERE status NOT IN ('draft', 'approved', 'rejected');
-- nothing leaves draft without a person: every non-draft has a reviewer and a time
SELECT count(*) AS reviewed_by_nobody FROM qbrs WHERE status <> 'draft' AND (reviewed_by IS NULL OR reviewed_at IS NULL);
SELECT substr(qbr_pdf(:qbr1), 1, 5) = '%PDF-'::bytea AS draft_has_its_pdf;

DELETE FROM client_assignments;
DROP ROLE etop_test_am1, etop_test_am2;
DELETE FROM clients;
