-- The QBR queue's entry points: enqueue a generation job, poll its status,
-- and the daily check that enqueues one job per due client.  The worker that
-- processes etop.qbr_jobs is separate (see the QBR pipeline).
--
-- These functions run as the caller (security invoker), on purpose: inside a
-- SECURITY DEFINER function current_user is the owner, so it could not tell
-- which account manager called it.  Row-level security does the check
-- instead: an etop_am sees (and may enqueue jobs for) only its assigned
-- clients, and may insert nothing into etop.qbr_jobs but client_id and
-- options (950_cadence_grants.sql), so every other column takes its default.

CREATE FUNCTION etop.qbr_generate(client_id integer, options jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    opts jsonb := coalesce(qbr_generate.options, '{}');
    job uuid;
    is_admin boolean;
    info jsonb;
BEGIN
    IF qbr_generate.client_id IS NULL THEN
        RAISE EXCEPTION 'client_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(opts) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object, not %', jsonb_typeof(opts)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM etop.clients c WHERE c.id = qbr_generate.client_id) THEN
        is_admin := pg_has_role('etop_admin', 'MEMBER')
                    OR (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user);
        IF is_admin THEN
            RAISE EXCEPTION 'client % does not exist', qbr_generate.client_id
                USING ERRCODE = 'no_data_found',
                      HINT = 'SELECT client_id, name FROM etop.client_overview lists the clients.';
        END IF;
        RAISE EXCEPTION 'client % does not exist or is not assigned to you', qbr_generate.client_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'An account manager can generate QBRs only for the clients assigned to it '
                         'in etop.client_assignments.';
    END IF;

    INSERT INTO etop.qbr_jobs (client_id, options)
    VALUES (qbr_generate.client_id, opts)
    RETURNING id INTO job;

    -- a job nobody will run must not look started
    info := etop.build_info();
    IF (info->>'workers_database') IS DISTINCT FROM current_database() OR (info->>'qbr_workers')::int = 0 THEN
        RAISE WARNING 'no QBR worker serves database "%": the job is queued but will not run', current_database()
            USING DETAIL = CASE WHEN info->>'workers_database' IS NULL
                                THEN 'etop is not in shared_preload_libraries, so no background worker runs.'
                                WHEN (info->>'qbr_workers')::int = 0 THEN 'etop.qbr_workers is 0.'
                                ELSE 'etop''s workers serve the database named by etop.database_name '
                                     '(SHOW etop.database_name), not this one.' END,
                  HINT = 'Set etop.database_name to this database (and preload etop) and restart, '
                         'or run the job in this session: SELECT etop_internal.qbr_run_job(id) FROM etop_internal.job_claim();';
    END IF;

    RETURN jsonb_build_object(
        'job_id', job,
        'status', 'queued',
        'message', format('QBR generation started. Poll etop.qbr_status(%L) for status.', job));
END
$$;
COMMENT ON FUNCTION etop.qbr_generate(integer, jsonb) IS
    'Queue a QBR generation job for a client; returns {job_id, status, message}';

-- A job's state, with what matters for that state: progress while active,
-- the next attempt while waiting to retry, the QBR when completed, the error
-- and the human-review flag when failed.
CREATE FUNCTION etop.qbr_status(job_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j etop.qbr_jobs;
    result jsonb;
BEGIN
    SELECT * INTO j FROM etop.qbr_jobs q WHERE q.id = qbr_status.job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'QBR job % not found', coalesce(qbr_status.job_id::text, 'NULL')
            USING ERRCODE = 'no_data_found',
                  HINT = 'etop.qbr_generate(client_id) returns the job id; an account manager '
                         'sees only the jobs of its own clients.';
    END IF;

    result := jsonb_build_object('job_id', j.id, 'client_id', j.client_id, 'status', j.status,
                                 'attempts', j.attempts, 'max_attempts', j.max_attempts,
                                 'human_review', j.human_review, 'created_at', j.created_at);
    CASE j.status
        WHEN 'queued' THEN
            result := result || jsonb_build_object('run_after', j.run_after);
        WHEN 'active' THEN
            result := result || jsonb_build_object('progress', j.progress, 'started_at', j.started_at);
        WHEN 'retry' THEN
            result := result || jsonb_build_object('progress', j.progress, 'error', j.error,
                                                   'next_attempt_at', j.run_after);
        WHEN 'completed' THEN
            result := result || jsonb_build_object(
                'qbr_id', j.qbr_id,
                'pdf_url', (SELECT q.pdf_path FROM etop.qbrs q WHERE q.id = j.qbr_id),
                'completed_at', j.completed_at);
        WHEN 'failed' THEN
            result := result || jsonb_build_object('error', j.error, 'completed_at', j.completed_at,
                                                   'violations', j.violations);
    END CASE;
    RETURN jsonb_strip_nulls(result);
END
$$;
COMMENT ON FUNCTION etop.qbr_status(uuid) IS
    'Status of a QBR generation job: progress, next attempt, QBR id and PDF, error, human review';

-- The daily check (scheduled by etop.schedule_qbr_check): one job for each
-- due client, unless the client already has
--   * a job queued, active or waiting to retry (whatever its period),
--   * a draft QBR newer than its last QBR (a human has to review it first), or
--   * a job this check already enqueued for the same cycle (the cycle is
--     identified by the last QBR date: it ends when a QBR is approved), even
--     a failed one: a failed job is flagged for a human, not retried daily.
-- Running it twice creates nothing twice; concurrent runs queue behind an
-- advisory lock.  Returns the jobs it enqueued.
CREATE FUNCTION etop.run_qbr_check(as_of date DEFAULT current_date)
RETURNS TABLE (client_id integer, job_id uuid, next_due date, overdue boolean, explanation text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d record;
    res jsonb;
BEGIN
    IF run_qbr_check.as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('etop'), hashtext('run_qbr_check'));

    FOR d IN
        SELECT due.client_id, due.last_qbr_date, due.next_due, due.overdue, due.explanation
          FROM etop.due_for_qbr(run_qbr_check.as_of) due
         WHERE NOT EXISTS (SELECT 1 FROM etop.qbr_jobs j
                            WHERE j.client_id = due.client_id
                              AND j.status IN ('queued', 'active', 'retry'))
           AND NOT EXISTS (SELECT 1 FROM etop.qbrs q
                            WHERE q.client_id = due.client_id AND q.status = 'draft'
                              AND q.as_of > coalesce(due.last_qbr_date, '-infinity'::date))
           AND NOT EXISTS (SELECT 1 FROM etop.qbr_jobs j
                            WHERE j.client_id = due.client_id
                              AND j.options->>'trigger' = 'qbr-check'
                              AND j.options->'cycle_after'
                                  = coalesce(to_jsonb(due.last_qbr_date), 'null'::jsonb))
         ORDER BY due.next_due, due.client_id
    LOOP
        res := etop.qbr_generate(d.client_id,
                                 jsonb_build_object('trigger', 'qbr-check',
                                                    'as_of', run_qbr_check.as_of,
                                                    'cycle_after', d.last_qbr_date,
                                                    'next_due', d.next_due));
        client_id := d.client_id;
        job_id := (res->>'job_id')::uuid;
        next_due := d.next_due;
        overdue := d.overdue;
        explanation := d.explanation;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION etop.run_qbr_check(date) IS
    'Enqueue one QBR generation job per due client that has none pending for its cycle; returns them';
