-- The QBR queue (docs/qbr.md): jobs move queued -> active -> completed, or
-- active -> retry -> ... -> failed.  The background workers (src/qbr_worker.c)
-- only orchestrate: every state change and every step is one of the functions
-- below, each run in its own transaction, so progress is visible to
-- etop.qbr_status() while a job runs and a crash loses at most one step.

-- A job's date comes from options.as_of when it is inserted, so a bad one is
-- refused to whoever enqueues it (and can never block the claim of the queue).
CREATE FUNCTION etop_internal.qbr_jobs_as_of() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.as_of := (NEW.options->>'as_of')::date;
    RETURN NEW;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
    RAISE EXCEPTION 'options.as_of must be a date (YYYY-MM-DD), not "%"', NEW.options->>'as_of'
        USING ERRCODE = 'invalid_parameter_value';
END
$$;
CREATE TRIGGER qbr_jobs_as_of BEFORE INSERT ON etop.qbr_jobs
    FOR EACH ROW WHEN (NEW.as_of IS NULL AND NEW.options ? 'as_of')
    EXECUTE FUNCTION etop_internal.qbr_jobs_as_of();

-- Claim the next runnable job: queued or retry jobs whose time has come, or
-- active jobs whose worker is gone (the process no longer exists: killed, or
-- the server restarted) or missed its visibility timeout (hung).  SKIP LOCKED
-- lets any number of workers claim concurrently; a job is never claimed twice
-- at once.  The first condition is implied by the others; it is spelled out
-- because the planner does not infer the partial index's predicate from the
-- OR alone, and would sort every pending job instead.
--
-- Attempts count what the job did, not what happened to the server: an
-- attempt whose worker vanished without recording an outcome (a restart, a
-- terminated worker) is run again at once under the same attempt number and
-- counted in `interruptions`; a job interrupted max_attempts times, or whose
-- lease ran out on every attempt while its worker lived, stops for a human.
-- Whether a job's worker exists is asked of the process array
-- (etop_internal._pid_alive(), only for the active jobs the claim passes);
-- a pid reused by another process only delays the reclaim to the
-- visibility timeout.
CREATE FUNCTION etop_internal._pid_alive(pid integer) RETURNS boolean
AS 'MODULE_PATHNAME', 'etop_pid_alive'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION etop_internal._pid_alive(integer) IS
    'internal: whether a server process with this pid exists (job_claim: is an active job''s worker alive)';

CREATE FUNCTION etop_internal.job_claim(visibility interval DEFAULT NULL)
RETURNS etop.qbr_jobs
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j etop.qbr_jobs;
    vis interval := coalesce(visibility,
                             coalesce(current_setting('etop.qbr_visibility_timeout', true), '600')::interval);
BEGIN
  LOOP
    UPDATE etop.qbr_jobs q
       SET status = 'active',
           attempts = q.attempts + CASE WHEN c.orphaned THEN 0 ELSE 1 END,
           interruptions = q.interruptions + CASE WHEN c.orphaned THEN 1 ELSE 0 END,
           worker_pid = pg_backend_pid(),
           started_at = coalesce(q.started_at, now()), locked_until = now() + vis,
           progress = CASE WHEN c.orphaned
                           THEN format('Claimed again: attempt %s was interrupted (step 0/4)', q.attempts)
                           ELSE 'Claimed by worker (step 0/4)' END,
           as_of = coalesce(q.as_of, current_date)    -- options.as_of was read on insert
      FROM (SELECT c.id, (c.status = 'active' AND NOT etop_internal._pid_alive(c.worker_pid)) AS orphaned
              FROM etop.qbr_jobs c
             WHERE c.status IN ('queued', 'retry', 'active')
               AND ((c.status IN ('queued', 'retry') AND c.run_after <= now())
                    OR (c.status = 'active' AND (c.locked_until < now() OR NOT etop_internal._pid_alive(c.worker_pid))))
             ORDER BY c.run_after, c.created_at
             LIMIT 1 FOR UPDATE SKIP LOCKED) c
     WHERE q.id = c.id
    RETURNING q.* INTO j;
    EXIT WHEN j.id IS NULL OR (j.attempts <= j.max_attempts AND j.interruptions < j.max_attempts);
    PERFORM etop_internal.job_fail(j.id,
        CASE WHEN j.interruptions >= j.max_attempts
             THEN format('the job was interrupted %s times (its worker exited or the server restarted during it)',
                         j.interruptions)
             ELSE format('the job''s worker timed out during each of its %s attempts', j.max_attempts) END,
        retryable => false, human_review => true);
  END LOOP;
    RETURN j;               -- all NULL when there is nothing to do
END
$$;

-- Say which step a job is on ("Generating narrative (step 2/4)") and extend
-- its lease.
CREATE FUNCTION etop_internal.job_progress(job uuid, step integer)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE etop.qbr_jobs
       SET progress = (ARRAY['Calculating scores', 'Generating narrative', 'Validating citations',
                             'Rendering PDF'])[step] || ' (step ' || step || '/4)',
           locked_until = now() + coalesce(current_setting('etop.qbr_visibility_timeout', true), '600')::interval
     WHERE id = job AND status = 'active' AND worker_pid = pg_backend_pid();
$$;

-- A step failed.  Attempts left: back to 'retry' after an exponential
-- backoff (etop.qbr_retry_base_seconds x 2^(attempt-1): 30 s, 60 s, ...).
-- None left, or no retry wanted (a hallucination): 'failed', kept with its
-- error as the dead-letter record.  Returns the new status.
CREATE FUNCTION etop_internal.job_fail(job uuid, error text, retryable boolean DEFAULT true,
                              human_review boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j etop.qbr_jobs;
    base float8 := extract(epoch FROM coalesce(current_setting('etop.qbr_retry_base_seconds', true), '30')::interval)::float8;
BEGIN
    SELECT * INTO j FROM etop.qbr_jobs WHERE id = job FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF j.status <> 'active' OR j.worker_pid IS DISTINCT FROM pg_backend_pid() THEN
        -- not ours (any more): another worker claimed it, or it already
        -- finished; its outcome counts, never re-open it
        RETURN j.status;
    END IF;
    IF retryable AND j.attempts < j.max_attempts THEN
        UPDATE etop.qbr_jobs
           SET status = 'retry', error = job_fail.error, worker_pid = NULL, locked_until = NULL,
               run_after = now() + make_interval(secs => base * power(2, greatest(j.attempts, 1) - 1)),
               progress = format('Waiting to retry (attempt %s of %s failed)', j.attempts, j.max_attempts)
         WHERE id = job;
        RAISE LOG 'etop: QBR job % attempt %/% failed, will retry: %', job, j.attempts, j.max_attempts, error;
        RETURN 'retry';
    END IF;
    UPDATE etop.qbr_jobs
       SET status = 'failed', error = job_fail.error, worker_pid = NULL, locked_until = NULL,
           human_review = j.human_review OR job_fail.human_review, completed_at = now(),
           progress = 'Failed'
     WHERE id = job;
    RAISE WARNING 'etop: QBR job % for client % failed: %', job, j.client_id, error;
    RETURN 'failed';
END
$$;

-- One step of a job, in the caller's transaction.  Returns false when the
-- job must stop (citations failed validation: the job is marked failed for
-- human review, without retries — the same data would fail again).
CREATE FUNCTION etop_internal.qbr_step(job uuid, step integer)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j etop.qbr_jobs;
    v jsonb;
    qbr integer;
    pdf bytea;
BEGIN
    -- locked for the step: a claim (SKIP LOCKED) passes over a job mid-step,
    -- even one whose lease ran out meanwhile
    SELECT * INTO STRICT j FROM etop.qbr_jobs WHERE id = job FOR UPDATE;
    IF j.status <> 'active' THEN
        RAISE EXCEPTION 'QBR job % is %, not active', job, j.status;
    END IF;
    IF j.worker_pid IS DISTINCT FROM pg_backend_pid() THEN
        -- our lease expired and another worker claimed the job: stop, it owns it now
        RAISE EXCEPTION 'QBR job % is now run by another worker (pid %)', job, j.worker_pid
            USING HINT = 'Raise etop.qbr_visibility_timeout if steps take longer than it.';
    END IF;

    IF step = 1 THEN
        UPDATE etop.qbr_jobs
           SET input = etop.narrative_input(j.client_id, j.as_of),
               provider = coalesce(j.options->>'provider', coalesce(nullif(current_setting('etop.narrative_provider', true), ''), 'offline'))
         WHERE id = job;

    ELSIF step = 2 THEN
        -- 'offline' is written here; 'openai' is written by the worker (HTTP) and
        -- stored through etop_internal.job_store_narrative().
        IF j.provider = 'offline' THEN
            UPDATE etop.qbr_jobs SET narrative = etop.narrative_offline(j.input) WHERE id = job;
        ELSIF j.narrative IS NULL THEN
            RAISE EXCEPTION 'QBR job % has no narrative from provider "%"', job, j.provider;
        END IF;

    ELSIF step = 3 THEN
        SELECT jsonb_agg(to_jsonb(x)) INTO v FROM etop.validate_citations(j.narrative, j.client_id) x;
        IF v IS NOT NULL THEN
            UPDATE etop.qbr_jobs SET violations = v, human_review = true WHERE id = job;
            PERFORM etop_internal.job_fail(job, v->0->>'message', retryable => false, human_review => true);
            RETURN false;
        END IF;

    ELSIF step = 4 THEN
        pdf := etop.qbr_render(j.client_id, j.narrative, j.as_of);
        INSERT INTO etop.qbrs (client_id, job_id, period, as_of, status, narrative, scores, pdf)
        VALUES (j.client_id, job, etop.quarter_label(j.as_of), j.as_of, 'draft', j.narrative,
                j.input->'scores', pdf)
        RETURNING id INTO qbr;
        UPDATE etop.qbr_jobs
           SET status = 'completed', qbr_id = qbr, completed_at = now(), locked_until = NULL,
               progress = 'Completed (step 4/4)', error = NULL
         WHERE id = job;
        -- the draft_ready event and its notification come from qbrs_events
    ELSE
        RAISE EXCEPTION 'QBR step must be 1..4, got %', step;
    END IF;
    RETURN true;
END
$$;

-- Store a narrative generated outside SQL (the LLM provider) with its token usage.
CREATE FUNCTION etop_internal.job_store_narrative(job uuid, narrative jsonb, token_usage jsonb DEFAULT NULL)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE etop.qbr_jobs SET narrative = job_store_narrative.narrative,
                             token_usage = coalesce(job_store_narrative.token_usage, etop.qbr_jobs.token_usage)
     WHERE id = job AND status = 'active' AND worker_pid = pg_backend_pid();
$$;

-- Run every step of one claimed job in the current transaction.  The workers
-- use the steps one by one; this is for scripts and tests without workers.
CREATE FUNCTION etop_internal.qbr_run_job(job uuid)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    FOR s IN 1..4 LOOP
        PERFORM etop_internal.job_progress(job, s);
        IF NOT etop_internal.qbr_step(job, s) THEN
            EXIT;
        END IF;
    END LOOP;
    RETURN (SELECT status FROM etop.qbr_jobs WHERE id = job);
END
$$;

-- ---------- the human approval gate ----------

-- Reviews go through these functions (or an UPDATE of status/review_note by
-- a role allowed to): a BEFORE trigger fixes who reviewed and when and allows
-- only draft -> approved | rejected; an AFTER trigger writes the audit log.
CREATE FUNCTION etop_internal.qbrs_review_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A reviewed QBR stays as it was reviewed: once approved or rejected, no
    -- column but pdf_path (where the worker wrote the file) may change, so the
    -- decision, its note, who made it and when, and what was decided on
    -- (narrative, scores, PDF) are what the audit log says they were.
    IF OLD.status <> 'draft' THEN
        IF (NEW.id, NEW.client_id, NEW.job_id, NEW.period, NEW.as_of, NEW.status, NEW.narrative,
            NEW.scores, NEW.pdf, NEW.created_at, NEW.reviewed_by, NEW.reviewed_at, NEW.review_note)
           IS DISTINCT FROM
           (OLD.id, OLD.client_id, OLD.job_id, OLD.period, OLD.as_of, OLD.status, OLD.narrative,
            OLD.scores, OLD.pdf, OLD.created_at, OLD.reviewed_by, OLD.reviewed_at, OLD.review_note) THEN
            RAISE EXCEPTION 'QBR % is %; a reviewed QBR cannot be changed', OLD.id, OLD.status
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('It was %s by %s; etop.audit_log has when and with what note.', OLD.status, OLD.reviewed_by),
                      HINT = 'Generate a new QBR with etop.qbr_generate() to review it again.';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NEW.status NOT IN ('approved', 'rejected') THEN
            RAISE EXCEPTION 'QBR % is %; only a draft can be approved or rejected', OLD.id, OLD.status
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Generate a new QBR with etop.qbr_generate() to review it again.';
        END IF;
        -- who and when: the caller and now, unless an administrator recorded
        -- them explicitly (an approval given in the meeting, entered later);
        -- account managers can only write status and review_note
        NEW.reviewed_by := coalesce(nullif(NEW.reviewed_by, OLD.reviewed_by), current_user);
        NEW.reviewed_at := coalesce(nullif(NEW.reviewed_at, OLD.reviewed_at), now());
    ELSIF NEW.review_note IS DISTINCT FROM OLD.review_note THEN
        NEW.reviewed_by := coalesce(nullif(NEW.reviewed_by, OLD.reviewed_by), current_user);
        NEW.reviewed_at := coalesce(nullif(NEW.reviewed_at, OLD.reviewed_at), now());
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER qbrs_review_guard BEFORE UPDATE ON etop.qbrs
    FOR EACH ROW EXECUTE FUNCTION etop_internal.qbrs_review_guard();

-- True when a row being inserted was not numbered by its sequence in this
-- session: pg_restore (and pg_dump | psql) copy rows back with the ids they
-- had, while every ordinary insert takes the next id.  Triggers that record
-- that something happened (audit trail, events, cadence) skip restored rows,
-- which happened before and whose records are restored with them; recording
-- them again duplicated the audit trail and, with the sequences not yet set,
-- collided with the restored ids and failed the restore.
CREATE FUNCTION etop_internal.row_is_restored(seq regclass, id bigint) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN id IS DISTINCT FROM currval(seq);
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    RETURN true;                -- no id taken from seq in this session
END
$$;
COMMENT ON FUNCTION etop_internal.row_is_restored(regclass, bigint) IS
    'Internal: true for a row inserted with an id its sequence did not give in this session (a restore)';

-- Writes the audit trail as the extension owner (no role may write it directly);
-- the actor is the reviewer the guard above recorded.
CREATE FUNCTION etop_internal.qbrs_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' AND etop_internal.row_is_restored('etop.qbrs_id_seq', NEW.id) THEN
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO etop.audit_log (actor, role, action, entity, entity_id, client_id, before, after)
        VALUES (session_user, session_user, 'qbr_draft_created', 'qbr', NEW.id::text, NEW.client_id,
                NULL, jsonb_build_object('status', NEW.status, 'period', NEW.period, 'job_id', NEW.job_id));
    ELSIF NEW.status IS DISTINCT FROM OLD.status OR NEW.review_note IS DISTINCT FROM OLD.review_note THEN
        INSERT INTO etop.audit_log (actor, role, action, entity, entity_id, client_id, before, after)
        VALUES (session_user, NEW.reviewed_by,
                CASE NEW.status WHEN 'approved' THEN 'qbr_approved' WHEN 'rejected' THEN 'qbr_rejected'
                                ELSE 'qbr_note' END,
                'qbr', NEW.id::text, NEW.client_id,
                jsonb_build_object('status', OLD.status, 'review_note', OLD.review_note),
                jsonb_build_object('status', NEW.status, 'review_note', NEW.review_note));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER qbrs_audit AFTER INSERT OR UPDATE ON etop.qbrs
    FOR EACH ROW EXECUTE FUNCTION etop_internal.qbrs_audit();

-- QBR events (etop.qbr_events) and their notifications on channel etop_qbr.
-- Only these triggers write the table (as the extension owner); the payload
-- carries the event, its id and the ids of the QBR and job, nothing else:
-- no client id, name or period, since any login may LISTEN.  A consumer reads
-- the row with that id (RLS shows an account manager only its clients' events)
-- to learn the rest and to tell a real event from a forged NOTIFY.
CREATE FUNCTION etop_internal.qbr_event_emit(p_event text, p_client integer, p_qbr integer, p_job uuid)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    eid bigint;
BEGIN
    INSERT INTO etop.qbr_events (event, client_id, qbr_id, job_id)
    VALUES (p_event, p_client, p_qbr, p_job)
    RETURNING id INTO eid;
    PERFORM pg_notify('etop_qbr', json_build_object('event', p_event, 'event_id', eid,
                                                    'qbr_id', p_qbr, 'job_id', p_job)::text);
END
$$;
COMMENT ON FUNCTION etop_internal.qbr_event_emit(text, integer, integer, uuid) IS
    'Internal: records a QBR event and notifies channel etop_qbr (called by triggers only)';

CREATE FUNCTION etop_internal.qbrs_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- a job's worker storing its draft (step 4, while the job is active);
        -- not rows a restore copies back (qbrs is restored before qbr_jobs,
        -- which references it), which happened before and have their events
        IF NEW.status = 'draft' AND EXISTS (SELECT 1 FROM etop.qbr_jobs j
                                             WHERE j.id = NEW.job_id AND j.status = 'active') THEN
            PERFORM etop_internal.qbr_event_emit('draft_ready', NEW.client_id, NEW.id, NEW.job_id);
        END IF;
    ELSIF NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('approved', 'rejected') THEN
        PERFORM etop_internal.qbr_event_emit('qbr_' || NEW.status, NEW.client_id, NEW.id, NEW.job_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER qbrs_events AFTER INSERT OR UPDATE OF status ON etop.qbrs
    FOR EACH ROW EXECUTE FUNCTION etop_internal.qbrs_events();

CREATE FUNCTION etop_internal.qbr_jobs_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- a job that failed for good; one that needs human review (a hallucination)
    -- says so instead, as that is what someone has to act on
    IF NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed' THEN
        PERFORM etop_internal.qbr_event_emit(CASE WHEN NEW.human_review THEN 'human_review' ELSE 'job_failed' END,
                                    NEW.client_id, NEW.qbr_id, NEW.id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER qbr_jobs_events AFTER UPDATE OF status ON etop.qbr_jobs
    FOR EACH ROW EXECUTE FUNCTION etop_internal.qbr_jobs_events();

-- Wake the QBR workers when jobs are queued: they LISTEN on etop_qbr_jobs
-- (src/qbr_worker.c), and PostgreSQL delivers the notification when the
-- inserting transaction commits, i.e. when the job becomes claimable.  One
-- per statement (identical notifications of a transaction are folded into
-- one).  The poll interval (etop.qbr_poll_interval) stays as the fallback
-- for jobs whose retry time comes later.
CREATE FUNCTION etop_internal.qbr_jobs_wake() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_notify('etop_qbr_jobs', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER qbr_jobs_wake AFTER INSERT ON etop.qbr_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION etop_internal.qbr_jobs_wake();

CREATE FUNCTION etop_internal.qbr_review(p_qbr_id integer, p_status text, p_note text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q etop.qbrs;
BEGIN
    SELECT * INTO q FROM etop.qbrs WHERE id = p_qbr_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'QBR % not found', p_qbr_id
            USING ERRCODE = 'no_data_found',
                  DETAIL = format('No QBR with that id exists, or its client is not assigned to role "%s".',
                                  current_user);
    END IF;
    UPDATE etop.qbrs SET status = p_status, review_note = p_note WHERE id = p_qbr_id
    RETURNING * INTO q;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'permission denied to review QBR %', p_qbr_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only an account manager assigned to the client (or etop_admin) can review its QBRs.';
    END IF;
    RETURN jsonb_build_object('qbr_id', q.id, 'client_id', q.client_id, 'period', q.period,
                              'status', q.status, 'reviewed_by', q.reviewed_by,
                              'reviewed_at', q.reviewed_at, 'note', q.review_note);
END
$$;

CREATE FUNCTION etop.qbr_approve(qbr_id integer, note text DEFAULT NULL)
RETURNS jsonb LANGUAGE sql
AS $$ SELECT etop_internal.qbr_review(qbr_id, 'approved', note) $$;
COMMENT ON FUNCTION etop.qbr_approve(integer, text) IS
    'Approve a draft QBR (account manager assigned to the client, or etop_admin); audited';

CREATE FUNCTION etop.qbr_reject(qbr_id integer, reason text)
RETURNS jsonb LANGUAGE plpgsql
AS $$
BEGIN
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 'a reason is required to reject a QBR' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN etop_internal.qbr_review(qbr_id, 'rejected', reason);
END
$$;
COMMENT ON FUNCTION etop.qbr_reject(integer, text) IS
    'Reject a draft QBR with a reason (account manager assigned to the client, or etop_admin); audited';

-- A stored draft's PDF.
CREATE FUNCTION etop.qbr_pdf(qbr_id integer) RETURNS bytea
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p bytea;
BEGIN
    SELECT q.pdf INTO p FROM etop.qbrs q WHERE q.id = qbr_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'QBR % not found', qbr_id USING ERRCODE = 'no_data_found';
    END IF;
    RETURN p;
END
$$;
