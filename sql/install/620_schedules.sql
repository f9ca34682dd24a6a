-- Scheduling over pg_cron: recurring syncs, the daily due-for-QBR check and
-- score snapshots, as cron jobs named etop:... so a DBA can tell them apart.
--
-- pg_cron is optional: CREATE EXTENSION etop works without it, and it is
-- looked for only when a scheduling function is called (cron.* is reached
-- through dynamic SQL, so nothing here depends on it at install time).  The
-- etop.schedules view is backed by a function that returns no rows while
-- pg_cron is absent.
--
-- The scheduling functions are SECURITY DEFINER (owned by the superuser who
-- created the extension), so an etop_admin needs no rights on schema cron;
-- they only ever schedule etop's own fixed commands (a connection name is
-- quoted as a literal), and the jobs run as that owner.

-- Raises a clear error unless pg_cron is preloaded, runs its scheduler in
-- this database, and has been created here.
CREATE FUNCTION etop_internal.require_pg_cron() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    loaded boolean;
    cron_db text;
    installed boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron');
    why text;
BEGIN
    -- A preloaded pg_cron defines cron.database_name at postmaster level; a
    -- mere line in postgresql.conf without the library is a user-level placeholder.
    SELECT s.context = 'postmaster', s.setting INTO loaded, cron_db
      FROM pg_settings s WHERE s.name = 'cron.database_name';
    IF NOT coalesce(loaded, false) THEN
        why := 'pg_cron is not loaded: it is not in shared_preload_libraries.';
    ELSIF cron_db IS DISTINCT FROM current_database() THEN
        why := format('pg_cron is loaded, but its scheduler runs the jobs of database "%s" '
                      '(cron.database_name), not this one.', cron_db);
    ELSIF NOT installed THEN
        why := 'pg_cron is loaded for this database, but CREATE EXTENSION pg_cron has not been run here.';
    ELSE
        RETURN;
    END IF;
    RAISE EXCEPTION 'pg_cron is not available in database "%"', current_database()
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = why,
              HINT = format('Add pg_cron to shared_preload_libraries and set cron.database_name = ''%s'' '
                            'in postgresql.conf, restart PostgreSQL, then run CREATE EXTENSION pg_cron; '
                            'in this database.', current_database());
END
$$;
COMMENT ON FUNCTION etop_internal.require_pg_cron() IS
    'Raise a clear error unless pg_cron is preloaded, configured for and created in this database';

-- Schedule (or reschedule: pg_cron replaces a job of the same name) one of
-- etop's jobs.  Internal: called by the schedule_* functions below.
CREATE FUNCTION etop_internal.cron_schedule(job_name text, cron_expr text, command text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    PERFORM etop_internal.require_pg_cron();
    IF cron_expr IS NULL OR btrim(cron_expr) = '' THEN
        RAISE EXCEPTION 'a cron expression is required'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Five fields: minute hour day-of-month month day-of-week, '
                         'e.g. ''0 6 * * *'' (daily at 06:00) or ''*/30 * * * *''.';
    END IF;
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO id USING job_name, btrim(cron_expr), command;
    INSERT INTO etop.audit_log (action, entity, entity_id, after)
    VALUES ('schedule', 'schedule', job_name,
            jsonb_build_object('jobid', id, 'schedule', btrim(cron_expr), 'command', command));
    RETURN id;
END
$$;
COMMENT ON FUNCTION etop_internal.cron_schedule(text, text, text) IS
    'Internal: schedule an etop:... pg_cron job (replacing one of the same name)';

CREATE FUNCTION etop.schedule_sync(connection text, cron_expr text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM etop_internal.require_pg_cron();
    IF NOT EXISTS (SELECT 1 FROM etop.connections c WHERE c.name = schedule_sync.connection) THEN
        RAISE EXCEPTION 'connection "%" does not exist', schedule_sync.connection
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name, adapter FROM etop.connections lists the connections.';
    END IF;
    -- sync_or_raise: a failed or cancelled sync is a failed cron run
    RETURN etop_internal.cron_schedule('etop:sync:' || schedule_sync.connection, cron_expr,
                              format('SELECT etop.sync_or_raise(%L)', schedule_sync.connection));
END
$$;
COMMENT ON FUNCTION etop.schedule_sync(text, text) IS
    'Sync a connection on a cron schedule (pg_cron job etop:sync:<connection>)';

CREATE FUNCTION etop.schedule_qbr_check(cron_expr text DEFAULT '0 6 * * *') RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN etop_internal.cron_schedule('etop:qbr-check', cron_expr, 'SELECT etop.run_qbr_check()');
END
$$;
COMMENT ON FUNCTION etop.schedule_qbr_check(text) IS
    'Run the due-for-QBR check on a cron schedule (pg_cron job etop:qbr-check, daily 06:00 by default)';

CREATE FUNCTION etop.schedule_score_snapshots(cron_expr text DEFAULT '0 5 * * *') RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN etop_internal.cron_schedule('etop:score-snapshots', cron_expr, 'SELECT etop.snapshot_scores()');
END
$$;
COMMENT ON FUNCTION etop.schedule_score_snapshots(text) IS
    'Snapshot every client''s scores on a cron schedule (pg_cron job etop:score-snapshots)';

-- Remove one of etop's jobs: 'etop:qbr-check' or just 'qbr-check'.  Only
-- jobs named etop:... can be removed this way.  Returns false (with a
-- notice) when there was no such job, so scripts can run it repeatedly.
CREATE FUNCTION etop.unschedule(name text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    full_name text;
    jid bigint;
    removed boolean := false;
BEGIN
    PERFORM etop_internal.require_pg_cron();
    IF unschedule.name IS NULL OR btrim(unschedule.name) = '' THEN
        RAISE EXCEPTION 'a schedule name is required'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'SELECT name FROM etop.schedules lists etop''s schedules.';
    END IF;
    full_name := CASE WHEN unschedule.name LIKE 'etop:%' THEN unschedule.name
                      ELSE 'etop:' || unschedule.name END;
    FOR jid IN EXECUTE 'SELECT jobid FROM cron.job WHERE jobname = $1 ORDER BY jobid' USING full_name LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING jid;
        removed := true;
    END LOOP;
    IF removed THEN
        INSERT INTO etop.audit_log (action, entity, entity_id, before)
        VALUES ('unschedule', 'schedule', full_name, jsonb_build_object('name', full_name));
    ELSE
        RAISE NOTICE 'there is no etop schedule named "%"', full_name
            USING HINT = 'SELECT name FROM etop.schedules lists etop''s schedules.';
    END IF;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION etop.unschedule(text) IS
    'Remove an etop:... pg_cron job; false when there was none';

-- etop's cron jobs with the outcome of their latest run; no rows while
-- pg_cron is not installed here.
CREATE FUNCTION etop_internal.schedule_list()
RETURNS TABLE (name text, schedule text, command text, active boolean, jobid bigint,
               username text, last_status text, last_start timestamptz, last_end timestamptz,
               last_message text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $q$
        SELECT j.jobname::text, j.schedule, j.command, j.active, j.jobid, j.username::text,
               r.status, r.start_time, r.end_time, r.return_message
          FROM cron.job j
          LEFT JOIN LATERAL (SELECT d.status, d.start_time, d.end_time, d.return_message
                               FROM cron.job_run_details d
                              WHERE d.jobid = j.jobid
                              ORDER BY d.runid DESC LIMIT 1) r ON true
         WHERE j.jobname LIKE 'etop:%'
         ORDER BY j.jobname, j.jobid $q$;
END
$$;
COMMENT ON FUNCTION etop_internal.schedule_list() IS
    'etop''s pg_cron jobs with their latest run (backs the etop.schedules view)';

CREATE VIEW etop.schedules WITH (security_invoker = true) AS
    SELECT * FROM etop_internal.schedule_list();
COMMENT ON VIEW etop.schedules IS
    'etop''s pg_cron jobs (etop:...) with the status, times and message of their latest run';

-- DROP EXTENSION etop removes etop's pg_cron jobs (src/schedules_sql.c): an
-- event trigger of the extension, fired before the drop, that reads which
-- extensions the statement drops and acts only when etop is one of them.
CREATE FUNCTION etop_internal.on_drop_extension() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'etop_on_drop_extension';
COMMENT ON FUNCTION etop_internal.on_drop_extension() IS
    'Event trigger: when DROP EXTENSION drops etop, unschedule this database''s etop:... pg_cron jobs';
CREATE EVENT TRIGGER etop_drop_extension ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION etop_internal.on_drop_extension();
