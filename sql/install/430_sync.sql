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

-- Runs whose worker is gone (killed, crashed, server restarted) are failed.
CREATE FUNCTION etop_internal.sync_reap() RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH dead AS (
        UPDATE etop.sync_runs r
           SET status = 'failed', finished_at = clock_timestamp(),
               error = jsonb_build_object('error', 'Sync worker exited before finishing',
                                          'details', 'The worker (pid ' || r.worker_pid || ') ended without '
                                                     'recording an outcome; no normalized row was changed.')
         WHERE r.status = 'running'
           AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.worker_pid)
        RETURNING 1)
    SELECT count(*)::int FROM dead;
$$;

CREATE FUNCTION etop.sync(connection text, full_sync boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    run bigint;
    busy bigint;
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
    SELECT r.id INTO busy FROM etop.sync_runs r WHERE r.connection_id = c.id AND r.status = 'running';
    IF FOUND THEN
        RAISE EXCEPTION 'a sync of connection "%" is already running (run %)', connection, busy
            USING ERRCODE = 'object_in_use', HINT = 'Wait with etop.sync_wait(' || busy || ') or cancel it.';
    END IF;
    run := nextval('etop.sync_runs_id_seq');
    PERFORM etop_internal._sync_launch(run, c.id, full_sync);
    RETURN run;
END
$$;
COMMENT ON FUNCTION etop.sync(text, boolean) IS
    'Start a sync of a connection in a background worker; returns the run id at once';

-- Wait for a run; returns {"synced_at", "record_counts"} or the error object,
-- with "run_id" and "status".  After the timeout, the run's progress.
CREATE FUNCTION etop.sync_wait(run bigint, timeout interval DEFAULT '5 min')
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r etop.sync_runs;
    deadline timestamptz := clock_timestamp() + timeout;
    appear_by timestamptz := clock_timestamp() + interval '30 s';
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'etop.sync_wait() needs READ COMMITTED isolation to see the worker''s progress'
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    LOOP
        SELECT * INTO r FROM etop.sync_runs x WHERE x.id = run;
        IF FOUND AND r.status = 'running' THEN
            IF NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.worker_pid) THEN
                PERFORM etop_internal.sync_reap();
                SELECT * INTO r FROM etop.sync_runs x WHERE x.id = run;
            END IF;
        END IF;
        IF FOUND AND r.status = 'succeeded' THEN
            RETURN jsonb_build_object('run_id', r.id, 'status', r.status, 'synced_at', r.finished_at,
                                      'record_counts', r.record_counts);
        ELSIF FOUND AND r.status IN ('failed', 'cancelled') THEN
            RETURN coalesce(r.error, '{}') || jsonb_build_object('run_id', r.id, 'status', r.status);
        ELSIF NOT FOUND AND clock_timestamp() > appear_by THEN
            RAISE EXCEPTION 'sync run % not found', run
                USING ERRCODE = 'no_data_found', HINT = 'etop.sync() returns the run id.';
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

CREATE FUNCTION etop.sync_cancel(run bigint)
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE etop.sync_runs SET cancel_requested = true WHERE id = run AND status = 'running'
    RETURNING true;
$$;
COMMENT ON FUNCTION etop.sync_cancel(bigint) IS
    'Ask a running sync to stop at its next page; nothing of it is normalized';
