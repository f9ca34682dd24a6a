-- Operational tables: who sees which client, adapters and connections,
-- sync runs, score history, the QBR queue and drafts, audit log, settings.

-- Which account manager (a role, or a group role its members inherit) sees
-- which client.  Row-level security on every client-owned table reads this.
CREATE TABLE etop.client_assignments (
    client_id    integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    am_role      name    NOT NULL,
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    assigned_by  name    NOT NULL DEFAULT current_user,
    PRIMARY KEY (client_id, am_role)
);
CREATE INDEX idx_client_assignments_role ON etop.client_assignments (am_role);
COMMENT ON TABLE etop.client_assignments IS 'Which account manager role sees which client (drives row-level security)';

-- The adapter registry: the built-in adapters register here exactly as a
-- third-party extension would (library + symbol, loaded with
-- load_external_function, and a set-based normalization function).
CREATE TABLE etop.adapters (
    name               varchar(50) PRIMARY KEY,
    description        text,
    library            text NOT NULL,
    symbol             text NOT NULL,
    normalize_function regprocedure,
    entities           text[] NOT NULL DEFAULT '{}',
    builtin            boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    -- whose rights normalize_function runs with (set by etop_internal.adapters_guard())
    normalize_role     name NOT NULL DEFAULT current_user
);
COMMENT ON TABLE etop.adapters IS 'Registered vendor adapters (C entry point + normalization SQL function)';

-- Vendor endpoints.  credentials is never granted to any role: it is written
-- through etop.connection_create() and read only by the sync workers.
CREATE TABLE etop.connections (
    id            serial PRIMARY KEY,
    name          varchar(100) NOT NULL UNIQUE,
    adapter       varchar(50)  NOT NULL REFERENCES etop.adapters(name),
    base_url      text NOT NULL,
    credentials   jsonb NOT NULL DEFAULT '{}',
    options       jsonb NOT NULL DEFAULT '{}',
    enabled       boolean NOT NULL DEFAULT true,
    last_sync_at  timestamptz,
    sync_cursor   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    credentials_set_at timestamptz NOT NULL DEFAULT clock_timestamp()  -- when they were last given
);
COMMENT ON TABLE etop.connections IS 'Vendor endpoints with their (unreadable) credentials and options';
COMMENT ON COLUMN etop.connections.credentials IS 'Secret: readable by no role; used only by sync workers';

CREATE TABLE etop.sync_runs (
    id             bigserial PRIMARY KEY,
    connection_id  integer REFERENCES etop.connections(id) ON DELETE SET NULL,
    connection     varchar(100) NOT NULL,
    adapter        varchar(50)  NOT NULL,
    full_sync      boolean NOT NULL DEFAULT false,
    status         varchar(20) NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    requested_by   name NOT NULL DEFAULT current_user,
    worker_pid     integer,
    progress       jsonb NOT NULL DEFAULT '{}',
    record_counts  jsonb NOT NULL DEFAULT '{}',
    error          jsonb,
    cancel_requested boolean NOT NULL DEFAULT false,
    queued_at      timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz
);
CREATE INDEX idx_sync_runs_connection ON etop.sync_runs (connection_id, queued_at DESC);
COMMENT ON TABLE etop.sync_runs IS 'One row per sync: adapter, connection, status, progress, counts, error, timings';

CREATE TABLE etop.score_history (
    id               bigserial PRIMARY KEY,
    client_id        integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    quarter          varchar(10) NOT NULL,      -- 'Q4 2025'
    as_of            date NOT NULL,
    formula_version  varchar(20) NOT NULL,
    standards        numeric(5,1),
    risk             numeric(5,1),
    experience       numeric(5,1),
    scores           jsonb NOT NULL,
    computed_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, quarter)
);
COMMENT ON TABLE etop.score_history IS 'Quarterly snapshots of the three scores, for movement and trends';

CREATE TABLE etop.qbrs (
    id             serial PRIMARY KEY,
    client_id      integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    job_id         uuid,
    period         varchar(10) NOT NULL,       -- 'Q4 2025'
    as_of          date NOT NULL,
    status         varchar(20) NOT NULL DEFAULT 'draft'
                   CHECK (status IN ('draft', 'approved', 'rejected')),
    narrative      jsonb,
    scores         jsonb,
    pdf            bytea,
    pdf_path       text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    reviewed_by    name,
    reviewed_at    timestamptz,
    review_note    text
);
CREATE INDEX idx_qbrs_client ON etop.qbrs (client_id, created_at DESC);
COMMENT ON TABLE etop.qbrs IS 'Generated QBRs: always a draft until a human approves or rejects it';

CREATE TABLE etop.qbr_jobs (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id      integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    status         varchar(20) NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'active', 'completed', 'retry', 'failed')),
    options        jsonb NOT NULL DEFAULT '{}',
    progress       text,
    attempts       integer NOT NULL DEFAULT 0,
    max_attempts   integer NOT NULL DEFAULT 3,
    run_after      timestamptz NOT NULL DEFAULT now(),
    locked_until   timestamptz,
    worker_pid     integer,
    error          text,
    human_review   boolean NOT NULL DEFAULT false,
    token_usage    jsonb,
    as_of          date,                        -- the QBR's date (options->>'as_of', else the day it runs)
    provider       varchar(20),                 -- narrative provider used: offline | openai
    input          jsonb,                       -- step 1: etop.narrative_input()
    narrative      jsonb,                       -- step 2: the narrative as generated
    violations     jsonb,                       -- step 3: citation violations, when any
    qbr_id         integer REFERENCES etop.qbrs(id) ON DELETE SET NULL,
    requested_by   name NOT NULL DEFAULT current_user,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    completed_at   timestamptz,
    interruptions  integer NOT NULL DEFAULT 0    -- attempts lost to a restart or a vanished worker (not counted in attempts)
);
-- The claim's index: every job that may become runnable, in exactly the order
-- etop_internal.job_claim() takes them, so a claim reads the first few entries instead
-- of sorting every pending job.  Ordered by run_after alone, the jobs that one
-- transaction enqueued (etop.run_qbr_check) share a run_after and were sorted
-- on every claim: 5-7 ms per claim with 10,000 jobs queued
-- (bench/queue_bench.sh).
CREATE INDEX idx_qbr_jobs_runnable ON etop.qbr_jobs (run_after, created_at)
    WHERE status IN ('queued', 'retry', 'active');
CREATE INDEX idx_qbr_jobs_client ON etop.qbr_jobs (client_id, created_at DESC);
COMMENT ON TABLE etop.qbr_jobs IS 'QBR generation queue: queued -> active -> completed | retry -> failed';

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

CREATE TABLE etop.audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      name NOT NULL DEFAULT session_user,
    role       name NOT NULL DEFAULT current_user,
    action     varchar(50) NOT NULL,
    entity     varchar(50) NOT NULL,
    entity_id  text,
    client_id  integer REFERENCES etop.clients(id) ON DELETE SET NULL,
    before     jsonb,
    after      jsonb
);
CREATE INDEX idx_audit_log_entity ON etop.audit_log (entity, entity_id);
COMMENT ON TABLE etop.audit_log IS 'Who changed what and when (QBR approvals, connections, schedules)';

-- MSP-wide settings (branding, unit costs for lifecycle budgets, cadence
-- grace).  The table holds only what the MSP changed; etop.setting(key) falls
-- back to the built-in default, so upgrades can add settings and pg_dump
-- carries only the MSP's own values.
CREATE TABLE etop.settings (
    key          varchar(100) PRIMARY KEY,
    value        jsonb NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   name NOT NULL DEFAULT current_user
);
COMMENT ON TABLE etop.settings IS 'MSP-wide settings changed from their defaults (see etop.settings_effective)';

CREATE FUNCTION etop.setting_defaults() RETURNS TABLE (key text, value jsonb, description text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    VALUES
    ('msp_name'::text,  '"Your MSP"'::jsonb, 'MSP name printed on QBRs'::text),
    ('accent_color',    '"#1F6FB2"',  'Accent colour of QBR PDFs, as #RRGGBB'),
    ('logo_png',        'null',       'Logo for QBR PDFs: base64-encoded PNG, or null'),
    ('currency',        '"$"',        'Currency symbol for budgets'),
    ('unit_costs',      '{"endpoint": 1200, "server": 9000, "network": 2500}',
                        'Replacement cost per device type, for lifecycle budgets'),
    ('lifecycle_years', '{"endpoint": 4, "server": 5, "network": 6}',
                        'Age in years after which a device type is due for replacement'),
    ('qbr_grace_days',  '14',         'Days after the next-due date before a QBR counts as overdue')
$$;

CREATE VIEW etop.settings_effective AS
    SELECT d.key, coalesce(s.value, d.value) AS value, d.value AS default_value,
           s.key IS NOT NULL AS changed, d.description, s.updated_at, s.updated_by
      FROM etop.setting_defaults() d
      LEFT JOIN etop.settings s ON s.key = d.key;
COMMENT ON VIEW etop.settings_effective IS 'Every setting with its effective value and default';

CREATE FUNCTION etop.setting(p_key text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT s.value FROM etop.settings s WHERE s.key = p_key),
                    (SELECT d.value FROM etop.setting_defaults() d WHERE d.key = p_key))
$$;

CREATE FUNCTION etop.setting_set(p_key text, p_value jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM etop.setting_defaults() d WHERE d.key = p_key) THEN
        RAISE EXCEPTION 'unknown etop setting "%"', p_key
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT key, description FROM etop.settings_effective lists the settings.';
    END IF;
    IF p_value IS NULL THEN
        DELETE FROM etop.settings WHERE key = p_key;      -- back to the default
    ELSE
        INSERT INTO etop.settings (key, value) VALUES (p_key, p_value)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now(),
                                        updated_by = current_user;
    END IF;
    RETURN etop.setting(p_key);
END
$$;
COMMENT ON FUNCTION etop.setting_set(text, jsonb) IS 'Change a setting (NULL restores the default)';

-- Raw vendor pages of a sync run, exactly as fetched (the records array of
-- each page).  The adapter's normalization function turns them into rows of
-- the normalized tables, set-based, in the run's final transaction; the pages
-- are deleted when the run ends (kept on failure for diagnosis, until the
-- next run of that connection).  Unlogged: pages are written once and read
-- once by the same run, so writing each multi-megabyte page to the WAL as well
-- doubled the cost of staging it.  A crash empties the table; the run it
-- belonged to is marked failed by etop_internal.sync_reap() and is simply run again.
-- Unlogged tables are not replicated: run syncs on the primary (they are
-- writes anyway).
CREATE UNLOGGED TABLE etop.sync_pages (
    run_id      bigint  NOT NULL REFERENCES etop.sync_runs(id) ON DELETE CASCADE,
    endpoint    text    NOT NULL,       -- 'service/tickets', 'users', ...
    page        integer NOT NULL,       -- 1, 2, ... per endpoint
    records     integer NOT NULL,       -- jsonb_array_length(payload)
    payload     jsonb   NOT NULL,       -- the page's array of vendor records
    fetched_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, endpoint, page)
);
-- Pages are written once and read once: no compression to pay for.
ALTER TABLE etop.sync_pages ALTER COLUMN payload SET STORAGE EXTERNAL;
COMMENT ON TABLE etop.sync_pages IS 'Raw vendor pages of a sync run (staging for set-based normalization)';
