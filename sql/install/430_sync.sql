-- Vendor connections and syncs (src/sync.c, adapters/; docs/adapters.md).

CREATE FUNCTION etop_internal._sync_launch(run_id bigint, connection_id integer, full_sync boolean)
RETURNS integer
AS 'MODULE_PATHNAME', 'etop_sync_launch'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION etop_internal._sync_launch(bigint, integer, boolean) IS 'internal: start the sync worker of a run';

-- Registering an adapter loads its C library into the server (the sync
-- worker calls library/symbol with load_external_function), so, as LOAD, it
-- is for superusers only: an etop_admin may not insert an adapter nor change
-- its library, symbol or builtin flag.  The SQL side (normalize_function,
-- description, entities) an etop_admin may manage, and the function then
-- runs with the rights of whoever set it (normalize_role, recorded here; the
-- sync worker switches to that role for the call).  Before, an etop_admin
-- registered a function of its own that ran ALTER ROLE ... SUPERUSER in the
-- superuser sync worker, and came out superuser.
CREATE FUNCTION etop_internal.adapters_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    su boolean := (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user);
BEGIN
    IF NOT su AND (TG_OP = 'INSERT' OR NEW.library IS DISTINCT FROM OLD.library
                   OR NEW.symbol IS DISTINCT FROM OLD.symbol OR NEW.builtin IS DISTINCT FROM OLD.builtin
                   OR NEW.name IS DISTINCT FROM OLD.name) THEN
        RAISE EXCEPTION 'only a superuser may register an adapter or change its C library'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'An adapter''s library and symbol are loaded into the server by the sync worker, as LOAD does.',
                  HINT = 'Ask a superuser to register it; an etop_admin may then change its normalize_function.';
    END IF;
    IF TG_OP = 'INSERT' OR NEW.normalize_function IS DISTINCT FROM OLD.normalize_function
       OR NEW.normalize_role IS DISTINCT FROM OLD.normalize_role THEN
        -- a superuser may name another role to run it as; everyone else runs it as themselves
        IF NOT su OR NEW.normalize_role IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = NEW.normalize_role) THEN
            NEW.normalize_role := current_user;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER adapters_guard BEFORE INSERT OR UPDATE ON etop.adapters
    FOR EACH ROW EXECUTE FUNCTION etop_internal.adapters_guard();

-- Credentials go in here and never come out: no role can select them, and
-- neither this function's errors nor the audit log repeat them.  Only
-- etop_admin may call it (EXECUTE privilege).
--
-- log_min_error_statement is 'panic' while these functions run: a failing call
-- (a duplicate name, a bad URL) would otherwise write the whole statement,
-- credentials included, to the server log at the default setting.  An error
-- before the call starts (a literal that is not valid JSON) is still logged
-- with its statement: docs/security.md says how to pass credentials safely.
CREATE FUNCTION etop.connection_create(name text, adapter text, base_url text, credentials jsonb,
                                       options jsonb DEFAULT '{}')
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET log_min_error_statement = 'panic'
AS $$
DECLARE
    new_id integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM etop.adapters a WHERE a.name = connection_create.adapter) THEN
        RAISE EXCEPTION 'unknown adapter "%"', adapter
            USING ERRCODE = 'undefined_object',
                  HINT = coalesce((SELECT 'Registered adapters: ' || string_agg(a.name, ', ' ORDER BY a.name)
                                     FROM etop.adapters a), 'No adapter is registered.');
    END IF;
    IF base_url !~ '^https?://[^/\s]+' THEN
        RAISE EXCEPTION 'base_url must be an http:// or https:// URL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF credentials IS NULL OR jsonb_typeof(credentials) <> 'object' THEN
        RAISE EXCEPTION 'credentials must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        INSERT INTO etop.connections (name, adapter, base_url, credentials, options)
        VALUES (connection_create.name, connection_create.adapter, rtrim(connection_create.base_url, '/'),
                connection_create.credentials, connection_create.options)
        RETURNING id INTO new_id;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'connection "%" already exists', name
            USING ERRCODE = 'duplicate_object', HINT = 'Drop it first with etop.connection_drop().';
    END;
    INSERT INTO etop.audit_log (actor, role, action, entity, entity_id, after)
    VALUES (session_user, session_user, 'connection_created', 'connection', new_id::text,
            jsonb_build_object('name', name, 'adapter', adapter, 'base_url', base_url,
                               'options', options, 'credential_keys',
                               (SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(credentials) k)));
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION etop.connection_create(text, text, text, jsonb, jsonb) IS
    'Register a vendor endpoint; credentials are stored write-only';

CREATE FUNCTION etop.connection_drop(name text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c etop.connections;
BEGIN
    DELETE FROM etop.connections x WHERE x.name = connection_drop.name RETURNING * INTO c;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'connection "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO etop.audit_log (actor, role, action, entity, entity_id, before)
    VALUES (session_user, session_user, 'connection_dropped', 'connection', c.id::text,
            jsonb_build_object('name', c.name, 'adapter', c.adapter, 'base_url', c.base_url));
    RETURN true;
END
$$;

-- Where a connection sends its credentials: the base URL and every option
-- that is a URL (an OAuth authority, a token endpoint), as {key: url}.
CREATE FUNCTION etop_internal.connection_destinations(base_url text, options jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('base_url', rtrim(base_url, '/'))
           || coalesce((SELECT jsonb_object_agg(o.key, rtrim(o.value #>> '{}', '/'))
                          FROM jsonb_each(CASE jsonb_typeof(options) WHEN 'object' THEN options END) o
                         WHERE jsonb_typeof(o.value) = 'string'
                           AND o.value #>> '{}' ~* '^[a-z][a-z0-9+.-]*://'), '{}');
$$;
COMMENT ON FUNCTION etop_internal.connection_destinations(text, jsonb) IS
    'Internal: the URLs a connection sends its credentials to (base_url and URL-valued options)';

-- Credentials go only where they were given for: changing a connection's
-- base_url, or an option that is a URL (options.authority receives the OAuth
-- client secret), needs the credentials again in the same change (given
-- through etop.connection_update(), which moves credentials_set_at: no role
-- but a superuser may write that column).  Whoever
-- tries: an etop_admin's column UPDATE, and a superuser's too (before, an
-- admin could point another admin's connection at a listener of its own and
-- receive the keys with the next sync).
CREATE FUNCTION etop_internal.connections_credential_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF etop_internal.connection_destinations(NEW.base_url, NEW.options)
           IS DISTINCT FROM etop_internal.connection_destinations(OLD.base_url, OLD.options)
       AND NEW.credentials_set_at IS NOT DISTINCT FROM OLD.credentials_set_at THEN
        RAISE EXCEPTION 'changing where connection "%" sends its credentials needs the credentials again', OLD.name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('It sent them to %s; the change would send them to %s.',
                                  etop_internal.connection_destinations(OLD.base_url, OLD.options),
                                  etop_internal.connection_destinations(NEW.base_url, NEW.options)),
                  HINT = 'Use etop.connection_update(name, base_url => ..., options => ..., credentials => ...).';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER connections_credential_guard BEFORE UPDATE ON etop.connections
    FOR EACH ROW EXECUTE FUNCTION etop_internal.connections_credential_guard();

-- Changes a connection; NULL leaves a part as it is.  Credentials given
-- replace the old ones; they are required when base_url or a URL-valued
-- option changes (see above).  Audited without the credentials' values.
CREATE FUNCTION etop.connection_update(name text, base_url text DEFAULT NULL,
                                       options jsonb DEFAULT NULL, credentials jsonb DEFAULT NULL,
                                       enabled boolean DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET log_min_error_statement = 'panic'
AS $$
DECLARE
    c etop.connections;
BEGIN
    SELECT * INTO c FROM etop.connections x WHERE x.name = connection_update.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'connection "%" does not exist', connection_update.name USING ERRCODE = 'undefined_object';
    END IF;
    IF base_url IS NOT NULL AND base_url !~ '^https?://[^/\s]+' THEN
        RAISE EXCEPTION 'base_url must be an http:// or https:// URL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF credentials IS NOT NULL AND jsonb_typeof(credentials) <> 'object' THEN
        RAISE EXCEPTION 'credentials must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options IS NOT NULL AND jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE etop.connections x
       SET base_url = coalesce(rtrim(connection_update.base_url, '/'), x.base_url),
           options = coalesce(connection_update.options, x.options),
           credentials = coalesce(connection_update.credentials, x.credentials),
           credentials_set_at = CASE WHEN connection_update.credentials IS NOT NULL
                                     THEN clock_timestamp() ELSE x.credentials_set_at END,
           enabled = coalesce(connection_update.enabled, x.enabled),
           updated_at = now()
     WHERE x.id = c.id;
    INSERT INTO etop.audit_log (actor, role, action, entity, entity_id, before, after)
    VALUES (session_user, session_user, 'connection_updated', 'connection', c.id::text,
            jsonb_build_object('base_url', c.base_url, 'options', c.options, 'enabled', c.enabled),
            jsonb_strip_nulls(jsonb_build_object('base_url', base_url, 'options', options, 'enabled', enabled,
                              'credential_keys', (SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(credentials) k))));
    RETURN true;
END
$$;
COMMENT ON FUNCTION etop.connection_update(text, text, jsonb, jsonb, boolean) IS
    'Change a connection (NULL keeps a part); a new base_url or URL option needs the credentials again; audited';

-- runs: the shared-memory registry of sync runs (src/sync_registry.c).  A run
-- has a slot from etop.sync() until its worker exits, however it exits; a
-- crash-restart empties the registry.  So "running" without a slot means
-- the worker is gone -- exact, unlike pg_stat_activity, which a transaction
-- sees as a snapshot taken at its first look.
CREATE FUNCTION etop_internal._sync_alive(run_id bigint) RETURNS boolean
AS 'MODULE_PATHNAME', 'etop_sync_alive'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION etop_internal._sync_alive(bigint) IS
    'internal: whether a sync run has a worker (or one starting), from the shared-memory registry';

CREATE FUNCTION etop_internal._sync_signal_cancel(run_id bigint) RETURNS boolean
AS 'MODULE_PATHNAME', 'etop_sync_signal_cancel'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION etop_internal._sync_signal_cancel(bigint) IS
    'internal: set a sync run''s cancel flag in the registry and wake its worker';

CREATE FUNCTION etop_internal._sync_registry_started() RETURNS timestamptz
AS 'MODULE_PATHNAME', 'etop_sync_registry_started_at'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION etop_internal._sync_registry_started() IS
    'internal: when the server (re)initialised shared memory (start, restart or crash-restart); NULL when etop is not preloaded';

-- Runs whose worker is gone are failed, with the reason: a run older than
-- the registry was cut off by a server restart (fast, immediate or a
-- crash-restart); otherwise its worker ended without recording an outcome.
-- (A worker stopped by SIGTERM -- a fast shutdown, pg_terminate_backend() --
-- records "Sync worker was terminated" itself on its way out.)
CREATE FUNCTION etop_internal.sync_reap() RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH dead AS (
        UPDATE etop.sync_runs r
           SET status = 'failed', finished_at = clock_timestamp(),
               error = CASE WHEN r.started_at < etop_internal._sync_registry_started() THEN
                   jsonb_build_object('error', 'Server restarted during the sync',
                                      'details', 'The server restarted at '
                                                 || etop_internal._sync_registry_started()
                                                 || ' while the run was running (worker pid ' || r.worker_pid
                                                 || '); no normalized row was changed. Run the sync again.')
                   ELSE
                   jsonb_build_object('error', 'Sync worker exited without recording an outcome',
                                      'details', 'The worker (pid ' || r.worker_pid || ') ended without '
                                                 'recording an outcome; no normalized row was changed. '
                                                 'The server log says why.')
                   END
         WHERE r.status = 'running'
           AND NOT etop_internal._sync_alive(r.id)
        RETURNING 1)
    SELECT count(*)::int FROM dead;
$$;
COMMENT ON FUNCTION etop_internal.sync_reap() IS
    'internal: mark running sync runs without a worker failed, with the reason';

-- At most one run per connection: etop_internal._sync_launch() reserves the
-- connection in the shared-memory registry, atomically, and refuses with
-- object_in_use when it has a run (also for two calls at once).
CREATE FUNCTION etop.sync(connection text, full_sync boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    run bigint;
BEGIN
    SELECT x.id, x.enabled INTO c FROM etop.connections x WHERE x.name = sync.connection;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'connection "%" does not exist', connection
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with etop.connection_create(name, adapter, base_url, credentials).';
    END IF;
    IF NOT c.enabled THEN
        RAISE EXCEPTION 'connection "%" is disabled', connection USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM etop_internal.sync_reap();
    run := nextval('etop.sync_runs_id_seq');
    PERFORM etop_internal._sync_launch(run, c.id, full_sync);
    RETURN run;
END
$$;
COMMENT ON FUNCTION etop.sync(text, boolean) IS
    'Start a sync of a connection in a background worker; returns the run id at once (one running run per connection)';

-- A finished run as etop.sync_wait() returns it: the error object (failed,
-- cancelled) or the counts, with "run_id" and the run's "status".  The
-- vendor's HTTP status is "http_status" (0.2.0 stored it as "status", which
-- the run's status overwrote: moved here for old rows).
CREATE FUNCTION etop_internal.sync_result(r etop.sync_runs) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN r.status = 'succeeded' THEN
                jsonb_build_object('run_id', r.id, 'status', r.status, 'synced_at', r.finished_at,
                                   'record_counts', r.record_counts)
           ELSE
                CASE WHEN coalesce(r.error, '{}') ? 'status' AND NOT r.error ? 'http_status'
                     THEN (r.error - 'status') || jsonb_build_object('http_status', r.error->'status')
                     ELSE coalesce(r.error, '{}') END
                || jsonb_build_object('run_id', r.id, 'status', r.status)
           END;
$$;
COMMENT ON FUNCTION etop_internal.sync_result(etop.sync_runs) IS
    'internal: a finished run as etop.sync_wait() returns it';

-- Wait for a run; returns {"synced_at", "record_counts"} or the error object,
-- with "run_id" and "status" (and "http_status" for a vendor's HTTP error).
-- After the timeout, the run's progress.
CREATE FUNCTION etop.sync_wait(run bigint, timeout interval DEFAULT '5 min')
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r etop.sync_runs;
    alive boolean;
    deadline timestamptz := clock_timestamp() + timeout;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'etop.sync_wait() needs READ COMMITTED isolation to see the worker''s progress'
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    LOOP
        -- liveness first, then the row: a worker records its outcome before
        -- it leaves the registry, so a row read after "not alive" is final
        alive := etop_internal._sync_alive(run);
        SELECT * INTO r FROM etop.sync_runs x WHERE x.id = run;
        IF FOUND AND r.status = 'running' AND NOT alive THEN
            PERFORM etop_internal.sync_reap();
            SELECT * INTO r FROM etop.sync_runs x WHERE x.id = run;
        END IF;
        IF FOUND AND r.status <> 'running' THEN
            RETURN etop_internal.sync_result(r);
        ELSIF NOT FOUND AND NOT alive THEN
            RAISE EXCEPTION 'sync run % not found', run
                USING ERRCODE = 'no_data_found',
                      DETAIL = 'No run of that id is recorded or has a worker in this database.',
                      HINT = 'etop.sync() returns the run id; etop.sync_runs lists the runs.';
        ELSIF clock_timestamp() > deadline THEN
            RETURN jsonb_build_object('run_id', run, 'status', coalesce(r.status, 'starting'),
                                      'progress', r.progress,
                                      'message', 'still running; call etop.sync_wait() again');
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;

CREATE FUNCTION etop.sync_now(connection text, full_sync boolean DEFAULT false)
RETURNS jsonb
LANGUAGE sql
AS $$ SELECT etop.sync_wait(etop.sync(connection, full_sync)) $$;
COMMENT ON FUNCTION etop.sync_now(text, boolean) IS 'Sync a connection and wait for the outcome (for scripts)';

-- Sync, wait, and raise an error unless the run succeeded: what the pg_cron
-- jobs of etop.schedule_sync() run, so a failed sync is a failed cron run
-- (cron.job_run_details.status = 'failed', the vendor's error in
-- return_message).  Returns the outcome like sync_now() when it succeeded.
CREATE FUNCTION etop.sync_or_raise(connection text, full_sync boolean DEFAULT false,
                                   timeout interval DEFAULT '1 hour')
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run bigint := etop.sync(connection, full_sync);
    res jsonb := etop.sync_wait(run, timeout);
    detail text;
BEGIN
    IF res->>'status' = 'succeeded' THEN
        RETURN res;
    END IF;
    detail := concat_ws(' ', nullif(concat_ws('; ', res->>'details', res->>'detail', res->>'url',
                                              'HTTP status ' || (res->>'http_status')), ''),
                        format('(run %s; etop.sync_runs has the whole error object.)', run));
    IF res->>'status' = 'cancelled' THEN
        RAISE EXCEPTION 'sync of connection "%" was cancelled (run %)', connection, run
            USING ERRCODE = 'query_canceled', DETAIL = detail;
    ELSIF res->>'status' = 'failed' THEN
        RAISE EXCEPTION 'sync of connection "%" failed: %', connection, res->>'error'
            USING ERRCODE = coalesce(res->>'sqlstate', 'connection_exception'),
                  DETAIL = detail,
                  HINT = coalesce(res->>'hint', 'SELECT error FROM etop.sync_runs WHERE id = ' || run || ';');
    END IF;
    RAISE EXCEPTION 'sync of connection "%" is still running after % (run %)', connection, timeout, run
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = format('SELECT etop.sync_wait(%s); waits for it; etop.sync_cancel(%s) stops it.', run, run);
END
$$;
COMMENT ON FUNCTION etop.sync_or_raise(text, boolean, interval) IS
    'Sync a connection, wait, and raise an error unless the run succeeded (what scheduled syncs run)';

-- Cancel: the flag in the registry (with the worker's latch) stops an HTTP
-- transfer or a retry wait within a second; cancel_requested (the table) is
-- also read between pages.  True if the run was running (or starting).
CREATE FUNCTION etop.sync_cancel(run bigint)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    signalled boolean := etop_internal._sync_signal_cancel(run);
BEGIN
    UPDATE etop.sync_runs SET cancel_requested = true WHERE id = run AND status = 'running';
    RETURN signalled OR FOUND;
END
$$;
COMMENT ON FUNCTION etop.sync_cancel(bigint) IS
    'Stop a running sync within a second or two (also mid-request); it ends cancelled, nothing of it normalized';
