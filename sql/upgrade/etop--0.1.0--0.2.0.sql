-- etop 0.1.0 -> 0.2.0.  Every schema change since 0.1.0, so that
-- ALTER EXTENSION etop UPDATE gives an installation that equals a fresh
-- CREATE EXTENSION etop of 0.2.0 (tests/integration/upgrade.sh compares the
-- catalogs) with every row kept.  The same objects are defined for a fresh
-- install in sql/install/; a change there needs its line here too.
\echo Use "ALTER EXTENSION etop UPDATE TO '0.2.0'" to load this file. \quit

-- New columns (at the end of their tables, as in a fresh install).
ALTER TABLE etop.adapters ADD COLUMN normalize_role name NOT NULL DEFAULT current_user;
-- A third-party adapter's normalization function ran with the sync worker's
-- superuser rights in 0.1.0; from now on it runs as normalize_role.  Who
-- registered it was not recorded, so it runs as its function's owner.
UPDATE etop.adapters a SET normalize_role = pg_catalog.pg_get_userbyid(p.proowner)
  FROM pg_catalog.pg_proc p WHERE p.oid = a.normalize_function AND NOT a.builtin;
ALTER TABLE etop.connections ADD COLUMN credentials_set_at timestamptz NOT NULL DEFAULT clock_timestamp();

-- QBR events (docs/qbr.md, "Notifications").
-- Every event etop announces on the etop_qbr notification channel, kept so
-- that a consumer that was not listening can catch up, and so that a consumer
-- can verify a notification: PostgreSQL lets any login LISTEN and NOTIFY on any
-- channel, so a payload is only a hint; the row here with that id, which only
-- etop's own triggers can write, is the fact (docs/qbr.md, "Notifications").
CREATE TABLE etop.qbr_events (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    event      varchar(30) NOT NULL
               CHECK (event IN ('draft_ready', 'job_failed', 'human_review', 'qbr_approved', 'qbr_rejected')),
    client_id  integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    qbr_id     integer REFERENCES etop.qbrs(id) ON DELETE SET NULL,
    job_id     uuid,
    actor      name NOT NULL DEFAULT session_user
);
CREATE INDEX idx_qbr_events_client ON etop.qbr_events (client_id, id);
COMMENT ON TABLE etop.qbr_events IS 'QBR events also sent on channel etop_qbr: drafts ready, failed jobs, human review, approvals, rejections';
SELECT pg_catalog.pg_extension_config_dump('etop.qbr_events', '');
SELECT pg_catalog.pg_extension_config_dump('etop.qbr_events_id_seq', '');
ALTER TABLE etop.qbr_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY admin_all ON etop.qbr_events TO etop_admin USING (true) WITH CHECK (true);
CREATE POLICY reader_all ON etop.qbr_events FOR SELECT TO etop_reader USING (true);
CREATE POLICY am_assigned ON etop.qbr_events FOR SELECT TO etop_am
    USING (client_id IN (SELECT etop.assigned_client_ids()));
REVOKE ALL ON etop.qbr_events, etop.qbr_events_id_seq FROM PUBLIC;
GRANT SELECT ON etop.qbr_events TO etop_reader, etop_am, etop_admin;
GRANT USAGE ON SEQUENCE etop.qbr_events_id_seq TO etop_admin;
GRANT SELECT (credentials_set_at) ON etop.connections TO etop_admin;

-- The queue: draft_ready comes from the qbrs_events trigger now.
CREATE OR REPLACE FUNCTION etop.qbr_step(job uuid, step integer)
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
        -- stored through etop.job_store_narrative().
        IF j.provider = 'offline' THEN
            UPDATE etop.qbr_jobs SET narrative = etop.narrative_offline(j.input) WHERE id = job;
        ELSIF j.narrative IS NULL THEN
            RAISE EXCEPTION 'QBR job % has no narrative from provider "%"', job, j.provider;
        END IF;

    ELSIF step = 3 THEN
        SELECT jsonb_agg(to_jsonb(x)) INTO v FROM etop.validate_citations(j.narrative, j.client_id) x;
        IF v IS NOT NULL THEN
            UPDATE etop.qbr_jobs SET violations = v, human_review = true WHERE id = job;
            PERFORM etop.job_fail(job, v->0->>'message', retryable => false, human_review => true);
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

-- A reviewed QBR cannot be changed.
CREATE OR REPLACE FUNCTION etop.qbrs_review_guard() RETURNS trigger
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

-- True when a row being inserted was not numbered by its sequence in this
-- session: pg_restore (and pg_dump | psql) copy rows back with the ids they
-- had, while every ordinary insert takes the next id.  Triggers that record
-- that something happened (audit trail, events, cadence) skip restored rows,
-- which happened before and whose records are restored with them; recording
-- them again duplicated the audit trail and, with the sequences not yet set,
-- collided with the restored ids and failed the restore.
CREATE FUNCTION etop.row_is_restored(seq regclass, id bigint) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN id IS DISTINCT FROM currval(seq);
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    RETURN true;                -- no id taken from seq in this session
END
$$;
COMMENT ON FUNCTION etop.row_is_restored(regclass, bigint) IS
    'Internal: true for a row inserted with an id its sequence did not give in this session (a restore)';

CREATE OR REPLACE FUNCTION etop.qbrs_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' AND etop.row_is_restored('etop.qbrs_id_seq', NEW.id) THEN
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

-- QBR events (etop.qbr_events) and their notifications on channel etop_qbr.
-- Only these triggers write the table (as the extension owner); the payload
-- carries the event, its id and the ids of the QBR and job, nothing else:
-- no client id, name or period, since any login may LISTEN.  A consumer reads
-- the row with that id (RLS shows an account manager only its clients' events)
-- to learn the rest and to tell a real event from a forged NOTIFY.
CREATE FUNCTION etop.qbr_event_emit(p_event text, p_client integer, p_qbr integer, p_job uuid)
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
COMMENT ON FUNCTION etop.qbr_event_emit(text, integer, integer, uuid) IS
    'Internal: records a QBR event and notifies channel etop_qbr (called by triggers only)';

CREATE FUNCTION etop.qbrs_events() RETURNS trigger
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
            PERFORM etop.qbr_event_emit('draft_ready', NEW.client_id, NEW.id, NEW.job_id);
        END IF;
    ELSIF NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('approved', 'rejected') THEN
        PERFORM etop.qbr_event_emit('qbr_' || NEW.status, NEW.client_id, NEW.id, NEW.job_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER qbrs_events AFTER INSERT OR UPDATE OF status ON etop.qbrs
    FOR EACH ROW EXECUTE FUNCTION etop.qbrs_events();

CREATE FUNCTION etop.qbr_jobs_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- a job that failed for good; one that needs human review (a hallucination)
    -- says so instead, as that is what someone has to act on
    IF NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed' THEN
        PERFORM etop.qbr_event_emit(CASE WHEN NEW.human_review THEN 'human_review' ELSE 'job_failed' END,
                                    NEW.client_id, NEW.qbr_id, NEW.id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER qbr_jobs_events AFTER UPDATE OF status ON etop.qbr_jobs
    FOR EACH ROW EXECUTE FUNCTION etop.qbr_jobs_events();

-- Restored rows do not move the cadence.
CREATE OR REPLACE FUNCTION etop.qbr_approved_moves_cadence() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    met date := coalesce(NEW.reviewed_at::date, current_date);
    previous date;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status = 'approved' THEN
        RETURN NULL;                       -- already approved: nothing new happened
    END IF;
    IF TG_OP = 'INSERT' AND etop.row_is_restored('etop.qbrs_id_seq', NEW.id) THEN
        RETURN NULL;                       -- restored: the client row came back as it was
    END IF;
    SELECT c.last_qbr_date INTO previous FROM etop.clients c WHERE c.id = NEW.client_id FOR UPDATE;
    IF previous IS NULL OR previous < met THEN
        UPDATE etop.clients SET last_qbr_date = met, updated_at = now() WHERE id = NEW.client_id;
        INSERT INTO etop.audit_log (role, action, entity, entity_id, client_id, before, after)
        VALUES (coalesce(NEW.reviewed_by, session_user), 'cadence_advance', 'client',
                NEW.client_id::text, NEW.client_id,
                jsonb_build_object('last_qbr_date', previous),
                jsonb_build_object('last_qbr_date', met, 'qbr_id', NEW.id));
    END IF;
    RETURN NULL;
END
$$;

-- Adapters: C libraries are registered by superusers only.
-- Registering an adapter loads its C library into the server (the sync
-- worker calls library/symbol with load_external_function), so, as LOAD, it
-- is for superusers only: an etop_admin may not insert an adapter nor change
-- its library, symbol or builtin flag.  The SQL side (normalize_function,
-- description, entities) an etop_admin may manage, and the function then
-- runs with the rights of whoever set it (normalize_role, recorded here; the
-- sync worker switches to that role for the call).  Before, an etop_admin
-- registered a function of its own that ran ALTER ROLE ... SUPERUSER in the
-- superuser sync worker, and came out superuser.
CREATE FUNCTION etop.adapters_guard() RETURNS trigger
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
    FOR EACH ROW EXECUTE FUNCTION etop.adapters_guard();

-- Connections: credentials go only where they were given for, and stay out of the log.
CREATE OR REPLACE FUNCTION etop.connection_create(name text, adapter text, base_url text, credentials jsonb,
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

-- Where a connection sends its credentials: the base URL and every option
-- that is a URL (an OAuth authority, a token endpoint), as {key: url}.
CREATE FUNCTION etop.connection_destinations(base_url text, options jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('base_url', rtrim(base_url, '/'))
           || coalesce((SELECT jsonb_object_agg(o.key, rtrim(o.value #>> '{}', '/'))
                          FROM jsonb_each(CASE jsonb_typeof(options) WHEN 'object' THEN options END) o
                         WHERE jsonb_typeof(o.value) = 'string'
                           AND o.value #>> '{}' ~* '^[a-z][a-z0-9+.-]*://'), '{}');
$$;
COMMENT ON FUNCTION etop.connection_destinations(text, jsonb) IS
    'Internal: the URLs a connection sends its credentials to (base_url and URL-valued options)';

-- Credentials go only where they were given for: changing a connection's
-- base_url, or an option that is a URL (options.authority receives the OAuth
-- client secret), needs the credentials again in the same change (given
-- through etop.connection_update(), which moves credentials_set_at: no role
-- but a superuser may write that column).  Whoever
-- tries: an etop_admin's column UPDATE, and a superuser's too (before, an
-- admin could point another admin's connection at a listener of its own and
-- receive the keys with the next sync).
CREATE FUNCTION etop.connections_credential_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF etop.connection_destinations(NEW.base_url, NEW.options)
           IS DISTINCT FROM etop.connection_destinations(OLD.base_url, OLD.options)
       AND NEW.credentials_set_at IS NOT DISTINCT FROM OLD.credentials_set_at THEN
        RAISE EXCEPTION 'changing where connection "%" sends its credentials needs the credentials again', OLD.name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('It sent them to %s; the change would send them to %s.',
                                  etop.connection_destinations(OLD.base_url, OLD.options),
                                  etop.connection_destinations(NEW.base_url, NEW.options)),
                  HINT = 'Use etop.connection_update(name, base_url => ..., options => ..., credentials => ...).';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER connections_credential_guard BEFORE UPDATE ON etop.connections
    FOR EACH ROW EXECUTE FUNCTION etop.connections_credential_guard();

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

-- qbr_generate warns when no QBR worker serves the database.
CREATE OR REPLACE FUNCTION etop.qbr_generate(client_id integer, options jsonb DEFAULT '{}')
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
                         'or run the job in this session: SELECT etop.qbr_run_job(id) FROM etop.job_claim();';
    END IF;

    RETURN jsonb_build_object(
        'job_id', job,
        'status', 'queued',
        'message', format('QBR generation started. Poll etop.qbr_status(%L) for status.', job));
END
$$;

-- New functions are no one's but the roles' below (a fresh install revokes every
-- function from PUBLIC in 900_security.sql).
REVOKE ALL ON FUNCTION etop.row_is_restored(regclass, bigint), etop.qbr_event_emit(text, integer, integer, uuid),
                       etop.qbrs_events(), etop.qbr_jobs_events(), etop.adapters_guard(),
                       etop.connection_destinations(text, jsonb), etop.connections_credential_guard(),
                       etop.connection_update(text, text, jsonb, jsonb, boolean)
       FROM PUBLIC;
GRANT EXECUTE ON FUNCTION etop.connection_update(text, text, jsonb, jsonb, boolean) TO etop_admin;
