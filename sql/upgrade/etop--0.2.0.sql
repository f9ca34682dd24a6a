-- etop install script, assembled by the Makefile from sql/install/*.sql in name order.
\echo Use "CREATE EXTENSION etop" to load this file. \quit

CREATE SCHEMA etop;
COMMENT ON SCHEMA etop IS 'etop: MSP client health scores and QBR drafts (extension-owned)';

-- Roles are cluster-wide and outlive the extension: create them only when missing,
-- so etop can be installed in several databases and re-created after a DROP.
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['etop_admin', 'etop_am', 'etop_reader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;

COMMENT ON ROLE etop_admin  IS 'etop: manages connections, credentials, schedules and all data';
COMMENT ON ROLE etop_am     IS 'etop: account manager; sees only assigned clients, approves QBRs';
COMMENT ON ROLE etop_reader IS 'etop: read-only access for BI tools';

REVOKE ALL ON SCHEMA etop FROM PUBLIC;
GRANT USAGE ON SCHEMA etop TO etop_admin, etop_am, etop_reader;

-- Build information (versions of etop, PostgreSQL, libcurl, libharu).
CREATE FUNCTION etop.build_info() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'etop_build_info'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
-- The normalized, vendor-neutral data model (spec "Data Models", plus the
-- columns later subsystems need).  Every synced row keeps the vendor it came
-- from (source) and that vendor's id (external_id); the pair is unique within
-- the row's client, so adapters upsert idempotently with
--   INSERT ... ON CONFLICT (client_id, source, external_id) DO UPDATE.
-- Rows etop creates itself use source 'etop'; demo data uses source 'demo'.

CREATE TABLE etop.clients (
    id               serial PRIMARY KEY,
    external_id      varchar(255) NOT NULL,
    source           varchar(50)  NOT NULL,
    name             varchar(255) NOT NULL,
    segment          char(1) CHECK (segment IN ('A', 'B', 'C', 'D')),
    mrr              numeric(10,2),
    agreement_start  date,
    agreement_end    date,
    industry         varchar(100),
    compliance       text[] NOT NULL DEFAULT '{}',
    last_qbr_date    date,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT clients_source_external_id_key UNIQUE (source, external_id)
);
CREATE INDEX idx_clients_external ON etop.clients (external_id, source);
COMMENT ON TABLE etop.clients IS 'One MSP client (company); the root every other client-owned row hangs off';

CREATE TABLE etop.sites (
    id           serial PRIMARY KEY,
    client_id    integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    source       varchar(50)  NOT NULL,
    external_id  varchar(255) NOT NULL,
    name         varchar(255),
    address      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, source, external_id)
);
CREATE INDEX idx_sites_client ON etop.sites (client_id);
COMMENT ON TABLE etop.sites IS 'Physical locations of a client';

CREATE TABLE etop.contacts (
    id           serial PRIMARY KEY,
    client_id    integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    source       varchar(50)  NOT NULL,
    external_id  varchar(255) NOT NULL,
    name         varchar(255),
    role         varchar(100),
    email        varchar(255),
    phone        varchar(50),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, source, external_id)
);
CREATE INDEX idx_contacts_client ON etop.contacts (client_id);
COMMENT ON TABLE etop.contacts IS 'People at the client the MSP deals with (CEO, CFO, IT manager)';

CREATE TABLE etop.users (
    id              serial PRIMARY KEY,
    client_id       integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    source          varchar(50)  NOT NULL,
    external_id     varchar(255) NOT NULL,
    display_name    varchar(255),
    email           varchar(255),
    upn             varchar(255),
    account_enabled boolean NOT NULL DEFAULT true,
    mfa_enabled     boolean NOT NULL DEFAULT false,
    risk_level      varchar(20) CHECK (risk_level IN ('none', 'low', 'medium', 'high')),
    last_sign_in    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, source, external_id)
);
CREATE INDEX idx_users_client ON etop.users (client_id);
CREATE INDEX idx_users_risk ON etop.users (risk_level);
COMMENT ON TABLE etop.users IS 'Identity accounts (Entra ID users) with MFA state and risk level';

CREATE TABLE etop.devices (
    id               serial PRIMARY KEY,
    client_id        integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    site_id          integer REFERENCES etop.sites(id) ON DELETE SET NULL,
    source           varchar(50)  NOT NULL,
    external_id      varchar(255) NOT NULL,
    name             varchar(255),
    type             varchar(50) CHECK (type IN ('endpoint', 'server', 'network')),
    os               varchar(100),
    managed          boolean NOT NULL DEFAULT false,
    health_status    varchar(20) CHECK (health_status IN ('healthy', 'warning', 'critical')),
    last_seen        timestamptz,
    serial_number    varchar(100),
    manufacturer     varchar(100),
    model            varchar(100),
    purchase_date    date,
    warranty_expires date,
    last_patched_at  timestamptz,                 -- NULL: no source reports patching
    edr_installed    boolean,                     -- NULL: no source reports EDR state
    edr_healthy      boolean,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, source, external_id)
);
CREATE INDEX idx_devices_client ON etop.devices (client_id);
CREATE INDEX idx_devices_health ON etop.devices (health_status);
CREATE INDEX idx_devices_serial ON etop.devices (serial_number) WHERE serial_number IS NOT NULL;
CREATE INDEX idx_devices_site ON etop.devices (site_id) WHERE site_id IS NOT NULL;
COMMENT ON TABLE etop.devices IS 'Workstations, servers and network gear, one row per physical device across vendors';

CREATE TABLE etop.agreements (
    id              serial PRIMARY KEY,
    client_id       integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    source          varchar(50)  NOT NULL,
    external_id     varchar(255) NOT NULL,
    name            varchar(255),
    type            varchar(100),
    mrr             numeric(10,2),
    effective_rate  numeric(10,2),
    term_months     integer,
    start_date      date,
    end_date        date,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, source, external_id)
);
CREATE INDEX idx_agreements_client ON etop.agreements (client_id);
COMMENT ON TABLE etop.agreements IS 'Service agreements (contracts) with their monthly recurring revenue';

CREATE TABLE etop.tickets (
    id            serial PRIMARY KEY,
    client_id     integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    device_id     integer REFERENCES etop.devices(id) ON DELETE SET NULL,
    source        varchar(50)  NOT NULL,
    external_id   varchar(255) NOT NULL,
    summary       text,
    category      varchar(100),
    priority      varchar(20),
    status        varchar(50),
    hours_spent   numeric(7,2),
    sla_met       boolean,
    reopen_count  integer NOT NULL DEFAULT 0,
    csat_score    integer CHECK (csat_score BETWEEN 1 AND 5),
    after_hours   boolean NOT NULL DEFAULT false,
    created_date  timestamptz,
    closed_date   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, source, external_id)
);
-- Scores read a client's tickets by quarter.  Both indexes carry the columns the
-- score engine aggregates, so scoring one client or all clients is an
-- index-only scan of the quarter's entries, not a walk over the whole heap.
CREATE INDEX idx_tickets_client ON etop.tickets (client_id, created_date)
    INCLUDE (sla_met, reopen_count, after_hours);
CREATE INDEX idx_tickets_created ON etop.tickets (created_date)
    INCLUDE (client_id, sla_met, reopen_count, after_hours);
-- Tickets linked to a device: serves foreign-key checks when a device is
-- deleted and the repeat-issue window (same device and category).
CREATE INDEX idx_tickets_device ON etop.tickets (device_id, category, created_date)
    INCLUDE (client_id) WHERE device_id IS NOT NULL;
COMMENT ON TABLE etop.tickets IS 'Service tickets with SLA outcome, reopen count and after-hours flag';

CREATE TABLE etop.controls (
    id            serial PRIMARY KEY,
    client_id     integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    device_id     integer REFERENCES etop.devices(id) ON DELETE CASCADE,
    source        varchar(50)  NOT NULL,
    external_id   varchar(255) NOT NULL,
    control_type  varchar(100) NOT NULL,
    title         varchar(255),
    status        varchar(20) CHECK (status IN ('pass', 'fail', 'unknown')),
    evidence      jsonb NOT NULL DEFAULT '{}',
    last_checked  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, source, external_id)
);
CREATE INDEX idx_controls_client ON etop.controls (client_id, control_type)
    INCLUDE (device_id, status);
CREATE INDEX idx_controls_status ON etop.controls (status);
CREATE INDEX idx_controls_device ON etop.controls (device_id) WHERE device_id IS NOT NULL;
COMMENT ON TABLE etop.controls IS 'Compliance controls: Immy.Bot baseline results (per device) and M365 Secure Score controls';

CREATE TABLE etop.risks (
    id               serial PRIMARY KEY,
    client_id        integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    device_id        integer REFERENCES etop.devices(id) ON DELETE SET NULL,
    source           varchar(50)  NOT NULL,
    external_id      varchar(255) NOT NULL,
    risk_type        varchar(100) CHECK (risk_type IN ('identity', 'email', 'endpoint', 'business')),
    title            varchar(255),
    description      text,
    severity         varchar(20) CHECK (severity IN ('informational', 'low', 'medium', 'high', 'critical')),
    likelihood       varchar(20) CHECK (likelihood IN ('low', 'medium', 'high')),
    impact           varchar(20) CHECK (impact IN ('low', 'medium', 'high')),
    status           varchar(20) CHECK (status IN ('open', 'mitigated', 'accepted')),
    business_impact  text,
    mitigation       text,
    detected_at      timestamptz,
    resolved_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, source, external_id)
);
CREATE INDEX idx_risks_client ON etop.risks (client_id);
CREATE INDEX idx_risks_status ON etop.risks (status);
CREATE INDEX idx_risks_device ON etop.risks (device_id) WHERE device_id IS NOT NULL;
COMMENT ON TABLE etop.risks IS 'Identified risks: Defender alerts, identity findings, business risks';

CREATE TABLE etop.recommendations (
    id           serial PRIMARY KEY,
    client_id    integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    source       varchar(50)  NOT NULL DEFAULT 'etop',
    external_id  varchar(255) NOT NULL DEFAULT gen_random_uuid()::text,
    title        varchar(255),
    description  text,
    effort       varchar(20) CHECK (effort IN ('low', 'medium', 'high')),
    cost_range   varchar(50),
    priority     varchar(20) CHECK (priority IN ('high', 'medium', 'low')),
    quarter      varchar(10),
    status       varchar(20) NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'completed', 'declined')),
    owner        varchar(255),
    due_date     date,
    evidence     text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, source, external_id)
);
CREATE INDEX idx_recommendations_client ON etop.recommendations (client_id);
COMMENT ON TABLE etop.recommendations IS 'Roadmap items proposed to the client, with effort, cost and quarter';

-- One real-world thing known to several vendors: an Immy.Bot computer and a
-- ConnectWise configuration with the same serial number are one device row,
-- and each vendor id that maps to it is a row here.
CREATE TABLE etop.external_refs (
    id           bigserial PRIMARY KEY,
    client_id    integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    entity       varchar(50)  NOT NULL CHECK (entity IN ('client', 'device', 'user', 'contact', 'site')),
    entity_id    integer      NOT NULL,
    source       varchar(50)  NOT NULL,
    external_id  varchar(255) NOT NULL,
    matched_on   varchar(50),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (entity, source, external_id)
);
CREATE INDEX idx_external_refs_entity ON etop.external_refs (entity, entity_id);
CREATE INDEX idx_external_refs_client ON etop.external_refs (client_id);
COMMENT ON TABLE etop.external_refs IS 'Vendor ids that map to one etop row (cross-vendor correlation)';
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
    -- whose rights normalize_function runs with (set by etop.adapters_guard())
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
    completed_at   timestamptz
);
-- The claim's index: every job that may become runnable, in exactly the order
-- etop.job_claim() takes them, so a claim reads the first few entries instead
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
-- belonged to is marked failed by etop.sync_reap() and is simply run again.
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
-- The score engine (src/score_formulas.c, src/scores_sql.c; docs/scoring.md).

CREATE FUNCTION etop.etop_scores(client_id integer, as_of date DEFAULT current_date)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'etop_scores_one'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
SET jit = off;          -- the metrics query is short; compiling it costs more than it saves
COMMENT ON FUNCTION etop.etop_scores(integer, date) IS
    'Standards, Risk and Experience scores of one client at as_of, with breakdown, evidence and movement';

CREATE FUNCTION etop.scores_all(as_of date DEFAULT current_date)
RETURNS TABLE (client_id integer, scores jsonb)
AS 'MODULE_PATHNAME', 'etop_scores_all'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 1000
SET jit = off;
COMMENT ON FUNCTION etop.scores_all(date) IS
    'Scores of every client the caller can see, computed set-based (one pass over each table)';

CREATE FUNCTION etop.standards_score(client_id integer, as_of date DEFAULT current_date)
RETURNS jsonb LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED
AS $$ SELECT etop.etop_scores(client_id, as_of)->'standards' $$;
CREATE FUNCTION etop.risk_score(client_id integer, as_of date DEFAULT current_date)
RETURNS jsonb LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED
AS $$ SELECT etop.etop_scores(client_id, as_of)->'risk' $$;
CREATE FUNCTION etop.experience_score(client_id integer, as_of date DEFAULT current_date)
RETURNS jsonb LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED
AS $$ SELECT etop.etop_scores(client_id, as_of)->'experience' $$;

-- "Q4 2025" for a date: the label score_history and QBRs use.
CREATE FUNCTION etop.quarter_label(d date) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT 'Q' || extract(quarter FROM d) || ' ' || extract(year FROM d) $$;

-- Store every visible client's scores for the quarter of as_of (one row per
-- client and quarter: a later snapshot in the same quarter replaces the
-- earlier one).  Returns the number of clients stored.
CREATE FUNCTION etop.snapshot_scores(as_of date DEFAULT current_date)
RETURNS integer LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO etop.score_history AS h
           (client_id, quarter, as_of, formula_version, standards, risk, experience, scores, computed_at)
    SELECT s.client_id, etop.quarter_label(snapshot_scores.as_of), snapshot_scores.as_of,
           s.scores->>'formula_version',
           (s.scores->'standards'->>'score')::numeric, (s.scores->'risk'->>'score')::numeric,
           (s.scores->'experience'->>'score')::numeric, s.scores, now()
      FROM etop.scores_all(snapshot_scores.as_of) s
    ON CONFLICT (client_id, quarter) DO UPDATE
       SET as_of = excluded.as_of, formula_version = excluded.formula_version,
           standards = excluded.standards, risk = excluded.risk,
           experience = excluded.experience, scores = excluded.scores,
           computed_at = excluded.computed_at;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION etop.snapshot_scores(date) IS
    'Store all clients'' scores in etop.score_history for the quarter of as_of (idempotent per client and quarter)';

-- BI views: computed live, for the clients the caller can see.
CREATE VIEW etop.client_scores WITH (security_invoker = true) AS
SELECT c.id AS client_id, c.name, c.segment,
       (s.scores->'standards'->>'score')::numeric  AS standards,
       (s.scores->'risk'->>'score')::numeric       AS risk,
       s.scores->'risk'->>'level'                  AS risk_level,
       (s.scores->'experience'->>'score')::numeric AS experience,
       (s.scores->'standards'->>'computed_at')::timestamptz AS computed_at,
       concat_ws('; ', s.scores->'standards'->'movement'->>'text',
                       s.scores->'risk'->'movement'->>'text',
                       s.scores->'experience'->'movement'->>'text') AS movement,
       (s.scores->'standards'->'movement'->>'delta')::int  AS standards_delta,
       (s.scores->'risk'->'movement'->>'delta')::int       AS risk_delta,
       (s.scores->'experience'->'movement'->>'delta')::int AS experience_delta,
       s.scores->>'formula_version' AS formula_version
  FROM etop.clients c
  JOIN etop.scores_all(current_date) s ON s.client_id = c.id;
COMMENT ON VIEW etop.client_scores IS 'One row per client: the three scores today and their movement vs. last quarter';

CREATE VIEW etop.score_components WITH (security_invoker = true) AS
SELECT c.id AS client_id, c.name, k.kind AS score, b.key AS component,
       (b.value->>'score')::numeric            AS component_score,
       (b.value->>'weight')::numeric           AS weight,
       (b.value->>'effective_weight')::numeric AS effective_weight,
       (b.value->>'missing')::boolean          AS missing,
       b.value->>'level'                       AS level,
       ARRAY(SELECT jsonb_array_elements_text(b.value->'evidence'->'citations')) AS citations,
       b.value->'evidence'                     AS evidence
  FROM etop.clients c
  JOIN etop.scores_all(current_date) s ON s.client_id = c.id
 CROSS JOIN LATERAL (VALUES ('standards'), ('risk'), ('experience')) k(kind)
 CROSS JOIN LATERAL jsonb_each(s.scores->k.kind->'breakdown') b;
COMMENT ON VIEW etop.score_components IS 'One row per client and score component, for drill-down';
-- Citation checking (src/citations.c, src/citations_sql.c; docs/qbr.md).
CREATE FUNCTION etop.validate_citations(narrative jsonb, client_id integer)
RETURNS TABLE (citation text, kind text, reference text, path text, message text)
AS 'MODULE_PATHNAME', 'etop_validate_citations'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION etop.validate_citations(jsonb, integer) IS
    'Citations in a narrative that do not name a row of that client, and recommendations without evidence (empty when clean)';
-- Narrative input and the offline composer (docs/qbr.md).
--
-- etop.narrative_input(client_id, as_of) gathers everything a QBR narrative
-- may talk about, for one client, as jsonb: scores with evidence, the top
-- open risks, risks mitigated this quarter, aging devices, failing policies,
-- notable tickets, the busiest ticket categories and the planned
-- recommendations.  The offline composer writes from it; the LLM provider
-- sends it as the prompt's PROVIDED DATA; nothing else reaches either.

-- Rank of low/medium/high (likelihood x impact ordering of risks).
CREATE FUNCTION etop.level_rank(level text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE lower(level) WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END $$;

CREATE FUNCTION etop.narrative_input(p_client_id integer, p_as_of date DEFAULT current_date)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    qs   date := date_trunc('quarter', p_as_of)::date;
    qe   timestamptz := (p_as_of + 1)::timestamptz;
    doc  jsonb;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM etop.clients WHERE id = p_client_id) THEN
        RAISE EXCEPTION 'client % not found', p_client_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'SELECT id, name FROM etop.clients lists the clients you can see.';
    END IF;

    SELECT jsonb_build_object(
        'client', (SELECT jsonb_build_object('id', c.id, 'name', c.name, 'segment', c.segment,
                                             'industry', c.industry, 'compliance', to_jsonb(c.compliance))
                     FROM etop.clients c WHERE c.id = p_client_id),
        'period', etop.quarter_label(p_as_of),
        'previous_period', etop.quarter_label(qs - 1),
        'as_of', p_as_of,
        'scores', etop.etop_scores(p_client_id, p_as_of),
        'top_risks', coalesce((
            SELECT jsonb_agg(to_jsonb(r) ORDER BY r.rank_score DESC, r.sev DESC, r.detected_at DESC, r.title)
              FROM (SELECT x.title, x.risk_type, x.severity, x.likelihood, x.impact, x.status,
                           x.business_impact, x.mitigation, x.detected_at::date AS detected_at,
                           etop.level_rank(x.likelihood) * etop.level_rank(x.impact) AS rank_score,
                           CASE x.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2
                                           WHEN 'low' THEN 1 ELSE 0 END AS sev
                      FROM etop.risks x
                     WHERE x.client_id = p_client_id AND x.status = 'open'
                       AND coalesce(x.detected_at < qe, true)
                     ORDER BY rank_score DESC, sev DESC, x.detected_at DESC, x.title LIMIT 5) r), '[]'),
        'mitigated_risks', coalesce((
            SELECT jsonb_agg(jsonb_build_object('title', x.title, 'risk_type', x.risk_type,
                                                'resolved_at', x.resolved_at::date) ORDER BY x.resolved_at DESC, x.title)
              FROM (SELECT * FROM etop.risks x WHERE x.client_id = p_client_id AND x.status = 'mitigated'
                       AND x.resolved_at >= qs AND x.resolved_at < qe
                     ORDER BY x.resolved_at DESC, x.title LIMIT 5) x), '[]'),
        'lifecycle', coalesce((
            SELECT jsonb_agg(to_jsonb(d) ORDER BY d.age_years DESC, d.name)
              FROM (SELECT x.name, x.type, concat_ws(' ', x.manufacturer, x.model) AS model,
                           round(((p_as_of - x.purchase_date) / 365.25)::numeric, 1) AS age_years,
                           x.warranty_expires,
                           coalesce((etop.setting('unit_costs')->>x.type)::numeric, 0) AS replacement_cost
                      FROM etop.devices x
                     WHERE x.client_id = p_client_id AND x.purchase_date IS NOT NULL
                       AND x.purchase_date <= p_as_of - make_interval(
                               years => coalesce((etop.setting('lifecycle_years')->>x.type)::int, 4))
                     ORDER BY x.purchase_date, x.name LIMIT 25) d), '[]'),
        'lifecycle_total', (SELECT count(*) FROM etop.devices x
                             WHERE x.client_id = p_client_id AND x.purchase_date IS NOT NULL
                               AND x.purchase_date <= p_as_of - make_interval(
                                   years => coalesce((etop.setting('lifecycle_years')->>x.type)::int, 4))),
        'failing_policies', coalesce((
            SELECT jsonb_agg(jsonb_build_object('title', x.title, 'score', x.evidence->'score',
                                                'max_score', x.evidence->'maxScore') ORDER BY x.mx DESC, x.title)
              FROM (SELECT c.title, c.evidence,
                           CASE WHEN jsonb_typeof(c.evidence->'maxScore') = 'number'
                                THEN (c.evidence->>'maxScore')::numeric ELSE 0 END AS mx
                      FROM etop.controls c
                     WHERE c.client_id = p_client_id AND c.control_type = 'm365_secure_score'
                       AND c.status = 'fail' AND c.title IS NOT NULL
                     ORDER BY mx DESC, c.title LIMIT 5) x), '[]'),
        'passing_policies', coalesce((
            SELECT jsonb_agg(x.title ORDER BY x.title)
              FROM (SELECT c.title FROM etop.controls c
                     WHERE c.client_id = p_client_id AND c.control_type = 'm365_secure_score'
                       AND c.status = 'pass' AND c.title IS NOT NULL ORDER BY c.title LIMIT 5) x), '[]'),
        'notable_tickets', coalesce((
            SELECT jsonb_agg(to_jsonb(t) ORDER BY t.prio, t.created, t.number)
              FROM (SELECT x.external_id AS number, x.summary, x.category, x.priority, x.status,
                           x.sla_met, x.reopen_count, x.created_date::date AS created,
                           CASE x.priority WHEN 'critical' THEN 1 WHEN 'high' THEN 2 ELSE 3 END AS prio
                      FROM etop.tickets x
                     WHERE x.client_id = p_client_id AND x.created_date >= qs AND x.created_date < qe
                       AND (x.priority IN ('critical', 'high') OR x.sla_met = false OR x.reopen_count > 0)
                     ORDER BY prio, x.created_date, x.external_id LIMIT 8) t), '[]'),
        'top_categories', coalesce((
            SELECT jsonb_agg(to_jsonb(k) ORDER BY k.tickets DESC, k.category)
              FROM (SELECT x.category, count(*) AS tickets, min(x.external_id) AS example_ticket
                      FROM etop.tickets x
                     WHERE x.client_id = p_client_id AND x.created_date >= qs AND x.created_date < qe
                       AND x.category IS NOT NULL
                     GROUP BY x.category ORDER BY count(*) DESC, x.category LIMIT 3) k), '[]'),
        'recommendations', coalesce((
            SELECT jsonb_agg(to_jsonb(r) ORDER BY r.quarter_start, r.prio, r.title)
              FROM (SELECT x.title, x.description, x.priority, x.effort, x.cost_range, x.quarter, x.status,
                           x.owner, x.due_date, x.evidence,
                           CASE x.priority WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END AS prio,
                           coalesce(x.due_date, p_as_of) AS quarter_start
                      FROM etop.recommendations x
                     WHERE x.client_id = p_client_id AND x.status IN ('pending', 'approved')
                     ORDER BY quarter_start, prio, x.title LIMIT 12) r), '[]'),
        'settings', jsonb_build_object('msp_name', etop.setting('msp_name'),
                                       'currency', etop.setting('currency'),
                                       'unit_costs', etop.setting('unit_costs'))
    ) INTO doc;

    -- Every citation the narrative may use, spelled exactly as it must be written.
    doc := doc || jsonb_build_object('allowed_citations', jsonb_build_object(
        'tickets', coalesce((SELECT jsonb_agg(DISTINCT '[Ticket #' || t || ']')
                               FROM (SELECT x->>'number' AS t FROM jsonb_array_elements(doc->'notable_tickets') x
                                     UNION SELECT x->>'example_ticket' FROM jsonb_array_elements(doc->'top_categories') x) s
                              WHERE t IS NOT NULL), '[]'),
        'devices', coalesce((SELECT jsonb_agg(DISTINCT '[Device: ' || n || ']')
                               FROM (SELECT x->>'name' AS n FROM jsonb_array_elements(doc->'lifecycle') x
                                     UNION SELECT jsonb_array_elements_text(b.value->'evidence'->k)
                                       FROM jsonb_each(doc->'scores'->'standards'->'breakdown') b,
                                            unnest(ARRAY['unmanaged_devices', 'unpatched_devices',
                                                         'missing_edr_devices', 'failing_devices']) k
                                      WHERE jsonb_typeof(b.value->'evidence'->k) = 'array') s
                              WHERE n IS NOT NULL), '[]'),
        'policies', coalesce((SELECT jsonb_agg(DISTINCT '[Policy: ' || n || ']')
                                FROM (SELECT x->>'title' AS n FROM jsonb_array_elements(doc->'failing_policies') x
                                      UNION SELECT jsonb_array_elements_text(doc->'passing_policies')) s
                               WHERE n IS NOT NULL), '[]'),
        'risks', coalesce((SELECT jsonb_agg(DISTINCT '[Risk: ' || n || ']')
                             FROM (SELECT x->>'title' AS n FROM jsonb_array_elements(doc->'top_risks') x
                                   UNION SELECT x->>'title' FROM jsonb_array_elements(doc->'mitigated_risks') x) s
                            WHERE n IS NOT NULL), '[]')));
    RETURN doc;
END
$$;
COMMENT ON FUNCTION etop.narrative_input(integer, date) IS
    'Everything a QBR narrative may cite for one client, as jsonb (the LLM prompt''s PROVIDED DATA)';

CREATE FUNCTION etop.narrative_offline(input jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'etop_narrative_offline'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION etop.narrative_offline(jsonb) IS
    'Deterministic QBR narrative (no network) from etop.narrative_input(): summary, trends, recommendations, discussion points, wins';
-- The QBR queue (docs/qbr.md): jobs move queued -> active -> completed, or
-- active -> retry -> ... -> failed.  The background workers (src/qbr_worker.c)
-- only orchestrate: every state change and every step is one of the functions
-- below, each run in its own transaction, so progress is visible to
-- etop.qbr_status() while a job runs and a crash loses at most one step.

-- A job's date comes from options.as_of when it is inserted, so a bad one is
-- refused to whoever enqueues it (and can never block the claim of the queue).
CREATE FUNCTION etop.qbr_jobs_as_of() RETURNS trigger
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
    EXECUTE FUNCTION etop.qbr_jobs_as_of();

-- Claim the next runnable job: queued or retry jobs whose time has come, or
-- active jobs whose worker missed its visibility timeout (it died).  SKIP
-- LOCKED lets any number of workers claim concurrently; a job is never
-- claimed twice at once.  The first condition is implied by the other two; it
-- is spelled out because the planner does not infer the partial index's
-- predicate from the OR alone, and would sort every pending job instead.
CREATE FUNCTION etop.job_claim(visibility interval DEFAULT NULL)
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
       SET status = 'active', attempts = q.attempts + 1, worker_pid = pg_backend_pid(),
           started_at = coalesce(q.started_at, now()), locked_until = now() + vis,
           progress = 'Claimed by worker (step 0/4)',
           as_of = coalesce(q.as_of, current_date)    -- options.as_of was read on insert
     WHERE q.id = (SELECT c.id FROM etop.qbr_jobs c
                    WHERE c.status IN ('queued', 'retry', 'active')
                      AND ((c.status IN ('queued', 'retry') AND c.run_after <= now())
                           OR (c.status = 'active' AND c.locked_until < now()))
                    ORDER BY c.run_after, c.created_at
                    LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING q.* INTO j;
    -- A job reclaimed after its lease ran out on every attempt keeps killing
    -- its worker (or outlives the lease): stop it for a human instead.
    EXIT WHEN j.id IS NULL OR j.attempts <= j.max_attempts;
    PERFORM etop.job_fail(j.id, format('the job''s worker stopped or timed out during each of its %s attempts',
                                       j.max_attempts),
                          retryable => false, human_review => true);
  END LOOP;
    RETURN j;               -- all NULL when there is nothing to do
END
$$;

-- Say which step a job is on ("Generating narrative (step 2/4)") and extend
-- its lease.
CREATE FUNCTION etop.job_progress(job uuid, step integer)
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
CREATE FUNCTION etop.job_fail(job uuid, error text, retryable boolean DEFAULT true,
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
CREATE FUNCTION etop.qbr_step(job uuid, step integer)
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

-- Store a narrative generated outside SQL (the LLM provider) with its token usage.
CREATE FUNCTION etop.job_store_narrative(job uuid, narrative jsonb, token_usage jsonb DEFAULT NULL)
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
CREATE FUNCTION etop.qbr_run_job(job uuid)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    FOR s IN 1..4 LOOP
        PERFORM etop.job_progress(job, s);
        IF NOT etop.qbr_step(job, s) THEN
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
CREATE FUNCTION etop.qbrs_review_guard() RETURNS trigger
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
    FOR EACH ROW EXECUTE FUNCTION etop.qbrs_review_guard();

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

-- Writes the audit trail as the extension owner (no role may write it directly);
-- the actor is the reviewer the guard above recorded.
CREATE FUNCTION etop.qbrs_audit() RETURNS trigger
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
CREATE TRIGGER qbrs_audit AFTER INSERT OR UPDATE ON etop.qbrs
    FOR EACH ROW EXECUTE FUNCTION etop.qbrs_audit();

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

CREATE FUNCTION etop.qbr_review(p_qbr_id integer, p_status text, p_note text)
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
AS $$ SELECT etop.qbr_review(qbr_id, 'approved', note) $$;
COMMENT ON FUNCTION etop.qbr_approve(integer, text) IS
    'Approve a draft QBR (account manager assigned to the client, or etop_admin); audited';

CREATE FUNCTION etop.qbr_reject(qbr_id integer, reason text)
RETURNS jsonb LANGUAGE plpgsql
AS $$
BEGIN
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 'a reason is required to reject a QBR' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN etop.qbr_review(qbr_id, 'rejected', reason);
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
-- Vendor connections and syncs (src/sync.c, adapters/; docs/adapters.md).

CREATE FUNCTION etop._sync_launch(run_id bigint, connection_id integer, full_sync boolean)
RETURNS integer
AS 'MODULE_PATHNAME', 'etop_sync_launch'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION etop._sync_launch(bigint, integer, boolean) IS 'internal: start the sync worker of a run';

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

-- Runs whose worker is gone (killed, crashed, server restarted) are failed.
CREATE FUNCTION etop.sync_reap() RETURNS integer
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
    PERFORM etop.sync_reap();
    SELECT r.id INTO busy FROM etop.sync_runs r WHERE r.connection_id = c.id AND r.status = 'running';
    IF FOUND THEN
        RAISE EXCEPTION 'a sync of connection "%" is already running (run %)', connection, busy
            USING ERRCODE = 'object_in_use', HINT = 'Wait with etop.sync_wait(' || busy || ') or cancel it.';
    END IF;
    run := nextval('etop.sync_runs_id_seq');
    PERFORM etop._sync_launch(run, c.id, full_sync);
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
                PERFORM etop.sync_reap();
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
-- Deterministic demo data: etop.demo_seed(clients, seed, as_of).
--
-- Fills the normalized tables with believable MSP data for `clients` client
-- companies: sites, contacts, ~60 Entra ID users, ~100 devices (names like
-- WS-ACCT-01, aging hardware, patch and EDR state), ~500 tickets a year for
-- two years before as_of (categories, SLA outcomes, reopens, after-hours),
-- Immy.Bot baseline results per device, 28 Secure Score controls, risks and
-- recommendations.  Every "random" value is a hash of (seed, entity,
-- ordinal), so the same arguments always produce the same rows whatever plan
-- the server picks.  Demo rows have source = 'demo'; calling it again
-- replaces the previous demo data and nothing else.
--
-- The low-volume tables are filled here, set-based; users, devices with
-- their baseline results, and tickets (millions of rows for thousands of
-- clients) come from C: src/demo_data.c generates them (pure, unit-tested)
-- and src/demo_data_sql.c writes them the way COPY does.

-- Uniform pseudo-random number in [0, 1) from a key, a salt and the seed.
CREATE FUNCTION etop.demo_rand(k bigint, salt integer, seed integer) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (pg_catalog.hashint8extended(k * 7919 + salt, seed) & 2147483647)::float8 / 2147483648.0
$$;

-- Pick one element of an array with a pseudo-random number in [0, 1).
CREATE FUNCTION etop.demo_pick(options text[], r float8) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT options[1 + floor(r * cardinality(options))::int]
$$;

-- The C loaders: one array element per client (id, ordinal N of DEMO-0000N,
-- size), rows written into the caller's transaction.  Used by demo_seed only.
CREATE FUNCTION etop.demo_load_users(client_ids integer[], ords integer[], n_users integer[],
                                     domains text[], seed integer, as_of date)
RETURNS bigint
AS 'MODULE_PATHNAME', 'etop_demo_load_users'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION etop.demo_load_users(integer[], integer[], integer[], text[], integer, date) IS
    'demo_seed helper: writes the clients'' Entra ID users; returns the number of rows';

CREATE FUNCTION etop.demo_load_devices(client_ids integer[], ords integer[], n_devices integer[],
                                       seed integer, as_of date,
                                       OUT devices bigint, OUT controls bigint)
AS 'MODULE_PATHNAME', 'etop_demo_load_devices'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION etop.demo_load_devices(integer[], integer[], integer[], integer, date) IS
    'demo_seed helper: writes the clients'' devices and controls (Immy.Bot baselines, Secure Score)';

CREATE FUNCTION etop.demo_load_tickets(client_ids integer[], ords integer[], n_users integer[],
                                       seed integer, as_of date)
RETURNS bigint
AS 'MODULE_PATHNAME', 'etop_demo_load_tickets'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION etop.demo_load_tickets(integer[], integer[], integer[], integer, date) IS
    'demo_seed helper: writes the clients'' tickets of the two years before as_of';

CREATE FUNCTION etop.demo_seed(clients integer, seed integer DEFAULT 1,
                               as_of date DEFAULT current_date)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = etop, pg_catalog, pg_temp
-- changed below for the bulk load; the caller's values are back on return
SET session_replication_role = origin
-- index builds of millions of presorted rows: a small sort (spilling to
-- disk) is faster than a big one that first has to fault in its memory
SET maintenance_work_mem = '64MB'
-- TRUNCATE of tables autovacuum is busy with (after an earlier seed): cancel it
-- after 50 ms rather than the usual second
SET deadlock_timeout = '50ms'
AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    -- the client-owned tables demo_seed fills (children before parents)
    demo_tables text[] := ARRAY['tickets', 'controls', 'risks', 'devices', 'users', 'sites',
                                'contacts', 'agreements', 'recommendations', 'external_refs'];
    -- big tables whose indexes are rebuilt after a large load
    bulk_tables text[] := ARRAY['tickets', 'controls', 'devices', 'users'];
    -- columns demo rows leave NULL: a partial index WHERE <column> IS NOT NULL
    -- receives no demo row during the load
    null_columns text[] := ARRAY['tickets.device_id', 'devices.site_id'];
    old_ids integer[];
    to_truncate text[] := '{}';
    to_delete text[] := '{}';
    blocked text[];
    rebuild text[] := '{}';
    stmt text;
    tbl text;
    other boolean;
    idx record;
    -- one element per demo client, in order of ordinal, for the C loaders
    a_ids integer[];
    a_ords integer[];
    a_users integer[];
    a_devices integer[];
    a_domains text[];
    n_tickets bigint;
    counts jsonb;
BEGIN
    IF clients IS NULL OR clients < 1 OR clients > 20000 THEN
        RAISE EXCEPTION 'demo_seed: clients must be between 1 and 20000, got %', clients
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF seed IS NULL THEN
        RAISE EXCEPTION 'demo_seed: seed must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF as_of IS NULL OR as_of NOT BETWEEN '1970-01-01' AND '2199-12-31' THEN
        RAISE EXCEPTION 'demo_seed: as_of must be between 1970-01-01 and 2199-12-31, got %', as_of
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Replace earlier demo data: deleting the demo clients cascades to all
    -- they own.  When there are many, the big tables are emptied first: a
    -- table that holds no other client's rows with TRUNCATE (together with
    -- every table that references it), the others with one DELETE each; the
    -- cascade then only finds what else the clients own (assignments,
    -- scores, QBRs) and applies the usual foreign-key actions.
    SELECT array_agg(id) INTO old_ids FROM etop.clients WHERE source = 'demo';
    IF cardinality(old_ids) >= 200 THEN
        FOREACH tbl IN ARRAY demo_tables LOOP
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM etop.clients c
                                            WHERE c.source <> ''demo''
                                              AND EXISTS (SELECT 1 FROM etop.%I x WHERE x.client_id = c.id))',
                           tbl) INTO other;
            IF other THEN
                to_delete := to_delete || tbl;
            ELSE
                to_truncate := to_truncate || tbl;
            END IF;
        END LOOP;
        -- TRUNCATE needs every table that references a truncated one in the same command
        LOOP
            SELECT array_agg(t) INTO blocked
              FROM unnest(to_truncate) t
             WHERE EXISTS (SELECT 1 FROM pg_constraint f
                            WHERE f.contype = 'f'
                              AND f.confrelid = format('etop.%I', t)::regclass
                              AND f.conrelid <> f.confrelid
                              AND f.conrelid NOT IN (SELECT format('etop.%I', u)::regclass
                                                       FROM unnest(to_truncate) u));
            EXIT WHEN blocked IS NULL;
            to_truncate := ARRAY(SELECT t FROM unnest(to_truncate) t WHERE t <> ALL (blocked));
            to_delete := ARRAY(SELECT t FROM unnest(demo_tables) t WHERE t <> ALL (to_truncate));
        END LOOP;
        IF cardinality(to_truncate) > 0 THEN
            EXECUTE 'TRUNCATE ' || (SELECT string_agg(format('etop.%I', t), ', ') FROM unnest(to_truncate) t);
        END IF;
        FOREACH tbl IN ARRAY to_delete LOOP
            EXECUTE format('DELETE FROM etop.%I WHERE client_id = ANY ($1)', tbl) USING old_ids;
        END LOOP;
    END IF;
    DELETE FROM etop.clients WHERE source = 'demo';
    RAISE DEBUG 'demo_seed: old demo data removed (truncated: %) at % s', to_truncate,
        round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);

    -- Bulk load: every row below references a client or device created in
    -- this function, so foreign-key checks (per-row triggers) are skipped,
    -- and for large seeds the indexes of the big tables are built once at
    -- the end (from rows mostly in index order already) instead of being
    -- updated row by row, which costs twice as much.  Kept: those
    -- a foreign key relies on, and partial indexes no demo row enters (they
    -- cost nothing during the load, but a scan of the table to rebuild),
    -- and the replica identity and clustering indexes.  Names, definitions,
    -- tablespaces and comments are restored as they were.  Everything is
    -- undone if anything fails.
    PERFORM set_config('session_replication_role', 'replica', true);
    IF clients >= 200 THEN
        FOR idx IN
            SELECT i.indexrelid::regclass::text AS index_name, i.indrelid::regclass::text AS table_name,
                   con.conname, pg_get_constraintdef(con.oid) AS condef,
                   pg_get_indexdef(i.indexrelid)
                   || coalesce(' TABLESPACE ' || quote_ident(ts.spcname), '') AS indexdef,
                   obj_description(i.indexrelid, 'pg_class') AS index_comment,
                   obj_description(con.oid, 'pg_constraint') AS constraint_comment
              FROM pg_index i
              JOIN pg_class ic ON ic.oid = i.indexrelid
              LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
              LEFT JOIN pg_constraint con
                     ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
                    AND con.contype IN ('p', 'u', 'x')
             WHERE i.indrelid = ANY (ARRAY(SELECT format('etop.%I', t)::regclass FROM unnest(bulk_tables) t))
               AND NOT i.indisreplident AND NOT i.indisclustered
               AND NOT EXISTS (SELECT 1 FROM unnest(null_columns) nc
                                WHERE i.indrelid = format('etop.%I', split_part(nc, '.', 1))::regclass
                                  AND pg_get_expr(i.indpred, i.indrelid)
                                      = format('(%I IS NOT NULL)', split_part(nc, '.', 2)))
               AND NOT EXISTS (SELECT 1 FROM pg_constraint f
                                WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
             ORDER BY i.indrelid, i.indexrelid
        LOOP
            IF idx.conname IS NOT NULL THEN
                EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', idx.table_name, idx.conname);
                rebuild := rebuild || format('ALTER TABLE %s ADD CONSTRAINT %I %s',
                                             idx.table_name, idx.conname, idx.condef);
                IF idx.constraint_comment IS NOT NULL THEN
                    rebuild := rebuild || format('COMMENT ON CONSTRAINT %I ON %s IS %L',
                                                 idx.conname, idx.table_name, idx.constraint_comment);
                END IF;
            ELSE
                EXECUTE format('DROP INDEX %s', idx.index_name);
                rebuild := rebuild || idx.indexdef;
            END IF;
            IF idx.index_comment IS NOT NULL THEN
                rebuild := rebuild || format('COMMENT ON INDEX %s IS %L', idx.index_name, idx.index_comment);
            END IF;
        END LOOP;
        -- ids: the serial sequences hand this session 1,000 at a time while
        -- it loads (ALTER SEQUENCE also makes other sessions' nextval() wait)
        FOR idx IN
            SELECT s.seqrelid::regclass::text AS seq_name, s.seqcache
              FROM unnest(bulk_tables) t
              JOIN pg_sequence s ON s.seqrelid = pg_get_serial_sequence(format('etop.%I', t), 'id')::regclass
             WHERE s.seqcache < 1000
        LOOP
            EXECUTE format('ALTER SEQUENCE %s CACHE 1000', idx.seq_name);
            rebuild := rebuild || format('ALTER SEQUENCE %s CACHE %s', idx.seq_name, idx.seqcache);
        END LOOP;
    END IF;

    -- Clients: unique names from three word lists, segments A 15% / B 30% /
    -- C 35% / D 20%, an industry with its compliance regimes, MRR by size.
    CREATE TEMP TABLE demo_c ON COMMIT DROP AS
    SELECT g AS ord,
           n_dev, greatest(5, round(n_dev * (0.45 + 0.3 * demo_rand(g, 2, seed))))::int AS n_usr,
           w2, industries[w2] AS industry,
           -- (first word, second word, suffix) is a bijection of ord below 9,000
           (ARRAY['Müller & Söhne','Harbor','Summit','Cedar Ridge','Bluewater','Northwind','Granite',
                  'Lakeside','Redwood','Pioneer','Keystone','Silver Oak','Riverbend','Evergreen',
                  'Ironclad','Brightpath','Coastal','Highland','Meridian','Oakmont','Pinnacle',
                  'Sterling','Westfield','Crescent','Fairview','Greystone','Horizon','Juniper',
                  'Maple Leaf','Stonebridge'])[1 + g % 30]
           || ' ' || words2[w2]
           || (ARRAY[' Group',' LLC',' Inc.',' GmbH',' & Co.',' Associates',' Ltd.',' PLLC',' Corp.',' Holdings'])
                  [1 + ((g / 9000 + 0) + (g / 900) % 10 + 3 * (g % 900)) % 10]
           || CASE WHEN g >= 9000 THEN ' ' || (g / 9000 + 1)::text ELSE '' END AS name
      FROM generate_series(1, clients) g,
           LATERAL (SELECT 40 + floor(demo_rand(g, 1, seed) * 121)::int AS n_dev,
                           1 + ((g / 30) % 30 + 7 * (g % 30)) % 30 AS w2,
                           ARRAY['Dental','Law','Capital','Fabrication','Builders','Foundation','Outfitters',
                                 'Accounting','Engineering','Academy','Medical','Logistics','Partners','Realty',
                                 'Insurance','Veterinary','Architects','Consulting','Wealth','Clinic','Freight',
                                 'Brewing','Energy','Media','Hospitality','Surveying','Pharmacy','Title',
                                 'Orthopedics','Labs'] AS words2,
                           ARRAY['Healthcare','Legal','Financial Services','Manufacturing','Construction',
                                 'Nonprofit','Retail','Accounting','Engineering','Education','Healthcare',
                                 'Logistics','Legal','Real Estate','Financial Services','Healthcare',
                                 'Engineering','Professional Services','Financial Services','Healthcare',
                                 'Logistics','Manufacturing','Energy','Media','Hospitality','Engineering',
                                 'Retail','Financial Services','Healthcare','Healthcare'] AS industries) x;

    INSERT INTO etop.clients (external_id, source, name, segment, mrr, agreement_start, agreement_end,
                              industry, compliance, last_qbr_date)
    SELECT 'DEMO-' || lpad(c.ord::text, 5, '0'), 'demo', c.name,
           s.segment,
           round((c.n_usr * (95 + 60 * demo_rand(c.ord, 4, seed)))::numeric, 2),
           as_of - (365 + floor(demo_rand(c.ord, 5, seed) * 1460))::int,
           as_of + (30 + floor(demo_rand(c.ord, 6, seed) * 700))::int,
           c.industry,
           CASE c.industry WHEN 'Healthcare' THEN ARRAY['HIPAA']
                           WHEN 'Financial Services' THEN ARRAY['SOC 2', 'GLBA']
                           WHEN 'Retail' THEN ARRAY['PCI DSS']
                           WHEN 'Accounting' THEN ARRAY['SOC 2']
                           WHEN 'Legal' THEN ARRAY['ABA Model Rule 1.6']
                           ELSE ARRAY[]::text[] END,
           CASE WHEN demo_rand(c.ord, 8, seed) < 0.08 THEN NULL
                ELSE as_of - (20 + floor(demo_rand(c.ord, 9, seed) * 400))::int END
      FROM demo_c c,
           LATERAL (SELECT CASE WHEN r < 0.15 THEN 'A' WHEN r < 0.45 THEN 'B'
                                WHEN r < 0.80 THEN 'C' ELSE 'D' END AS segment
                      FROM (SELECT demo_rand(c.ord, 7, seed) AS r) q) s;

    ALTER TABLE demo_c ADD COLUMN client_id integer, ADD COLUMN domain text;
    UPDATE demo_c c SET client_id = k.id,
           domain = lower(regexp_replace(translate(split_part(k.name, ' ', 1) || split_part(k.name, ' ', 2),
                                                   'üöäßÜÖÄ&', 'uoasUOA'), '[^A-Za-z0-9]', '', 'g'))
                    || c.ord || '.example'
      FROM etop.clients k
     WHERE k.source = 'demo' AND k.external_id = 'DEMO-' || lpad(c.ord::text, 5, '0');
    CREATE INDEX ON demo_c (client_id);
    ANALYZE demo_c;
    RAISE DEBUG 'demo_seed: clients at % s', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);

    -- Sites: 1-3 per client.
    INSERT INTO etop.sites (client_id, source, external_id, name, address)
    SELECT c.client_id, 'demo', 'SITE-' || c.ord || '-' || s,
           (ARRAY['Headquarters', 'Branch Office', 'Warehouse'])[s],
           (100 + floor(demo_rand(c.ord * 10 + s, 11, seed) * 9800))::int || ' ' ||
           demo_pick(ARRAY['Main St', 'Commerce Dr', 'Industrial Pkwy', 'Oak Ave', 'Harbor Blvd',
                           'Market St', 'Lakeview Rd'], demo_rand(c.ord * 10 + s, 12, seed)) || ', ' ||
           demo_pick(ARRAY['Springfield, IL', 'Portland, OR', 'Austin, TX', 'Columbus, OH',
                           'Raleigh, NC', 'Denver, CO', 'Madison, WI'], demo_rand(c.ord, 13, seed))
      FROM demo_c c, (VALUES (1), (2), (3)) v(s)     -- (a lateral generate_series costs 0.1 ms a client)
     WHERE s <= 1 + floor(demo_rand(c.ord, 10, seed) * 3)::int;

    -- Contacts: the people an account manager meets.
    INSERT INTO etop.contacts (client_id, source, external_id, name, role, email, phone)
    SELECT c.client_id, 'demo', 'CONTACT-' || c.ord || '-' || r.n,
           fn || ' ' || ln, r.role, lower(fn || '.' || ln || '@' || c.domain),
           '+1 555 ' || lpad((floor(demo_rand(c.ord * 10 + r.n, 15, seed) * 10000))::int::text, 4, '0')
      FROM demo_c c,
           (VALUES (1, 'CEO'), (2, 'CFO'), (3, 'IT Manager'), (4, 'Office Manager')) r(n, role),
           LATERAL (SELECT demo_pick(ARRAY['Anna','Ben','Carla','David','Elena','Frank','Grace','Hassan',
                                           'Ines','Jonas','Keiko','Liam','Maria','Noah','Olga','Priya'],
                                     demo_rand(c.ord * 10 + r.n, 16, seed)) AS fn,
                           demo_pick(ARRAY['Schmidt','Johnson','Garcia','Nguyen','Okafor','Rossi',
                                           'Kowalski','Brown','Tanaka','Müller','Dubois','Patel'],
                                     demo_rand(c.ord * 10 + r.n, 17, seed)) AS ln) p;

    -- Agreements: managed services plus optional add-ons.
    INSERT INTO etop.agreements (client_id, source, external_id, name, type, mrr, effective_rate,
                                 term_months, start_date, end_date)
    SELECT c.client_id, 'demo', 'AGR-' || c.ord || '-' || a.n, a.name, a.type,
           round((k.mrr * a.share)::numeric, 2),
           round((110 + 60 * demo_rand(c.ord, 20, seed))::numeric, 2),
           a.term, k.agreement_start, k.agreement_start + (a.term || ' months')::interval
      FROM demo_c c JOIN etop.clients k ON k.id = c.client_id,
           (VALUES (1, 'Managed Services - Complete', 'Managed Services', 0.75, 36),
                   (2, 'Microsoft 365 Licensing', 'Licensing', 0.15, 12),
                   (3, 'Backup & Disaster Recovery', 'Add-on', 0.10, 24)) a(n, name, type, share, term)
     WHERE a.n = 1 OR demo_rand(c.ord * 10 + a.n, 21, seed) < 0.6;

    SELECT array_agg(c.client_id ORDER BY c.ord), array_agg(c.ord ORDER BY c.ord),
           array_agg(c.n_usr ORDER BY c.ord), array_agg(c.n_dev ORDER BY c.ord),
           array_agg(c.domain ORDER BY c.ord)
      INTO a_ids, a_ords, a_users, a_devices, a_domains
      FROM demo_c c;
    RAISE DEBUG 'demo_seed: clients, sites, contacts, agreements at % s',
        round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);

    -- Users: Entra ID accounts with a per-client MFA adoption rate, a few
    -- risky or stale sign-ins, a scanner and a shared reception account.
    PERFORM etop.demo_load_users(a_ids, a_ords, a_users, a_domains, seed, as_of);
    RAISE DEBUG 'demo_seed: users at % s', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);

    -- Devices: 3 network devices, 3 servers, then workstations and laptops
    -- named by department (WS-ACCT-01, LT-SALES-02), mostly of the client's
    -- standard vendor.  Purchase dates spread over 7 years, so some hardware
    -- is due for replacement and still runs Windows 10; management, patch and
    -- EDR coverage vary per client.  Controls: each managed device's
    -- Immy.Bot baseline result, and the tenant's 28 Microsoft Secure Score
    -- controls (implemented fully, partly or not at all).
    PERFORM etop.demo_load_devices(a_ids, a_ords, a_devices, seed, as_of);
    RAISE DEBUG 'demo_seed: devices, controls at % s', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);

    -- Risks: Defender alerts (endpoint, email), identity findings and
    -- business risks, some mitigated.
    INSERT INTO etop.risks (client_id, source, external_id, risk_type, title, description, severity,
                            likelihood, impact, status, business_impact, mitigation, detected_at, resolved_at)
    SELECT c.client_id, 'demo', 'RISK-' || c.ord || '-' || r.n, r.rtype, r.title, r.descr, r.sev,
           r.lik, r.imp, st.status, r.bimpact, r.mitig,
           as_of - make_interval(days => floor(demo_rand(c.ord * 100 + r.n, 81, seed) * 170)::int),
           CASE WHEN st.status = 'mitigated' THEN as_of - make_interval(days => floor(demo_rand(c.ord * 100 + r.n, 82, seed) * 20)::int) END
      FROM demo_c c,
           (VALUES
            (1, 'identity', 'Legacy Authentication Still Allowed', 'Basic authentication is enabled for some mailboxes, bypassing MFA.', 'high', 'high', 'high',
             'Stolen passwords can be used without a second factor.', 'Block legacy authentication with Conditional Access'),
            (2, 'identity', 'Shared Admin Account In Use', 'A shared global administrator account is used by several technicians.', 'medium', 'medium', 'high',
             'Actions cannot be traced to a person; one leaked password exposes the tenant.', 'Issue named admin accounts with PIM'),
            (3, 'email', 'Phishing Campaign Targeting Finance', 'Defender for Office 365 flagged credential-harvesting emails to the finance team.', 'high', 'high', 'medium',
             'Invoice fraud and wire-transfer losses.', 'Run phishing simulation and enable impersonation protection'),
            (4, 'email', 'Mailbox Auto-Forwarding To External Domain', 'A mailbox rule forwards mail to an external address.', 'medium', 'medium', 'medium',
             'Confidential data leaving the company unnoticed.', 'Disable external auto-forwarding in outbound spam policy'),
            (5, 'endpoint', 'Unpatched Exchange Server', 'On-premises Exchange is missing the latest cumulative update.', 'critical', 'high', 'high',
             'Remote code execution could lead to ransomware across the network.', 'Patch or migrate remaining mailboxes to Exchange Online'),
            (6, 'endpoint', 'Suspicious PowerShell Activity', 'Defender for Endpoint detected encoded PowerShell on a workstation.', 'high', 'medium', 'high',
             'Early sign of an intrusion that can spread to file servers.', 'Isolate device, investigate and enable ASR rules'),
            (7, 'endpoint', 'End-of-Life Operating System', 'Devices still run an operating system that no longer receives security updates.', 'medium', 'medium', 'medium',
             'Known vulnerabilities stay open; cyber insurance may not pay out.', 'Replace or upgrade the affected devices'),
            (8, 'business', 'No Tested Disaster Recovery Plan', 'Backups exist but a full restore has not been tested this year.', 'high', 'low', 'high',
             'Days of downtime after a server failure or ransomware.', 'Schedule a restore test and document the DR runbook'),
            (9, 'business', 'Cyber Insurance Renewal Requires MFA Everywhere', 'The insurer requires MFA for all users at renewal.', 'medium', 'medium', 'high',
             'Higher premium or no coverage.', 'Close the MFA gap before renewal')
           ) r(n, rtype, title, descr, sev, lik, imp, bimpact, mitig),
           LATERAL (SELECT CASE WHEN q < 0.55 THEN 'open' WHEN q < 0.9 THEN 'mitigated' ELSE 'accepted' END AS status
                      FROM (SELECT demo_rand(c.ord * 100 + r.n, 80, seed) AS q) z) st
     WHERE demo_rand(c.ord * 100 + r.n, 83, seed) < 0.55;

    -- Recommendations: 0-8 per client over this quarter and the next three;
    -- about one client in eight has none (an empty roadmap).
    INSERT INTO etop.recommendations (client_id, source, external_id, title, description, effort,
                                      cost_range, priority, quarter, status, owner, due_date)
    SELECT c.client_id, 'demo', 'REC-' || c.ord || '-' || r.n, r.title, r.descr, r.effort, r.cost,
           r.prio,
           'Q' || extract(quarter FROM qd)::int || ' ' || extract(year FROM qd)::int,
           CASE WHEN r.n % 4 = 0 THEN 'approved' ELSE 'pending' END,
           demo_pick(ARRAY['Account Manager', 'vCIO', 'Client IT Manager', 'Service Desk Lead'],
                     demo_rand(c.ord * 100 + r.n, 91, seed)),
           (date_trunc('quarter', qd) + interval '3 months' - interval '1 day')::date
      FROM demo_c c,
           (VALUES (1, 'Enforce MFA For All Users', 'Close the remaining MFA gap with Conditional Access.', 'low', '$0-1K', 'high'),
                   (2, 'Replace Aging Workstations', 'Replace workstations past their lifecycle to cut downtime.', 'medium', '$10-25K', 'high'),
                   (3, 'Migrate File Server To SharePoint', 'Move shared drives to SharePoint for remote access and versioning.', 'high', '$5-10K', 'medium'),
                   (4, 'Security Awareness Training', 'Quarterly phishing simulations and short training modules.', 'low', '$1-5K', 'medium'),
                   (5, 'Test Disaster Recovery', 'Run and document a full restore of the critical servers.', 'medium', '$1-5K', 'high'),
                   (6, 'Upgrade Firewall Firmware', 'Bring the firewall to a supported firmware release.', 'low', '$0-1K', 'medium'),
                   (7, 'Deploy Attack Surface Reduction Rules', 'Turn on Defender ASR rules after an audit period.', 'medium', '$1-5K', 'medium'),
                   (8, 'Document Onboarding Checklist', 'Standardise new-user setup to cut onboarding tickets.', 'low', '$0-1K', 'low')
           ) r(n, title, descr, effort, cost, prio),
           LATERAL (SELECT (as_of + make_interval(months => 3 * floor(demo_rand(c.ord * 100 + r.n, 92, seed) * 4)::int))::date AS qd) q
     WHERE demo_rand(c.ord, 90, seed) >= 0.125
       AND r.n <= 2 + floor(demo_rand(c.ord, 93, seed) * 7);

    RAISE DEBUG 'demo_seed: risks, recommendations at % s',
        round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);

    -- Tickets: 6.5 to 11.5 a year per user (~500 a year for a 60-user
    -- client) over the two years before as_of, numbered in order of
    -- creation, with a per-client trend, SLA rate, reopen rate and
    -- after-hours share; categories with their own priorities, effort and
    -- resolution times; tickets not resolved by the morning of as_of are
    -- still open.
    n_tickets := etop.demo_load_tickets(a_ids, a_ords, a_users, seed, as_of);
    RAISE DEBUG 'demo_seed: tickets at % s', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);

    FOREACH stmt IN ARRAY rebuild LOOP
        EXECUTE stmt;
        RAISE DEBUG 'demo_seed: % at % s', stmt, round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);
    END LOOP;
    PERFORM set_config('session_replication_role', 'origin', true);
    RAISE DEBUG 'demo_seed: indexes at % s', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);

    SELECT jsonb_object_agg(t, n) INTO counts FROM (
        SELECT 'clients' AS t, count(*) AS n FROM demo_c
        UNION ALL SELECT 'sites', count(*) FROM etop.sites WHERE client_id = ANY (a_ids)
        UNION ALL SELECT 'contacts', count(*) FROM etop.contacts WHERE client_id = ANY (a_ids)
        UNION ALL SELECT 'users', count(*) FROM etop.users WHERE client_id = ANY (a_ids)
        UNION ALL SELECT 'devices', count(*) FROM etop.devices WHERE client_id = ANY (a_ids)
        UNION ALL SELECT 'agreements', count(*) FROM etop.agreements WHERE client_id = ANY (a_ids)
        UNION ALL SELECT 'tickets', n_tickets  -- what the loader wrote: counting 5 million rows takes a while
        UNION ALL SELECT 'controls', count(*) FROM etop.controls WHERE client_id = ANY (a_ids)
        UNION ALL SELECT 'risks', count(*) FROM etop.risks WHERE client_id = ANY (a_ids)
        UNION ALL SELECT 'recommendations', count(*) FROM etop.recommendations WHERE client_id = ANY (a_ids)) s;
    RAISE DEBUG 'etop.demo_seed: % clients in % s', clients,
        round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);
    DROP TABLE demo_c;
    RETURN counts;
END
$$;
COMMENT ON FUNCTION etop.demo_seed(integer, integer, date) IS
    'Replace demo data (source = demo) with N deterministic demo clients; returns row counts';
-- QBR cadence: which clients are due for a quarterly business review.
--
-- Segment A and B clients meet quarterly, C semiannually, D annually.  The
-- next QBR is due that many months after the last one (clamped to the end of
-- a shorter month: Aug 31 -> Nov 30); a client is due from that day on and
-- overdue once etop.setting('qbr_grace_days') more days have passed.  A
-- client with no QBR on record is due now; a client without a segment is
-- treated as quarterly.  The arithmetic is C (src/cadence.c, unit-tested);
-- the rules are explained in docs/cadence.md.

CREATE FUNCTION etop.qbr_cadence(segment text) RETURNS text
    AS 'MODULE_PATHNAME', 'etop_qbr_cadence'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION etop.qbr_cadence(text) IS
    'QBR cadence of a segment: A, B and no segment quarterly, C semiannually, D annually';

CREATE FUNCTION etop.qbr_next_due(last_qbr date, segment text) RETURNS date
    AS 'MODULE_PATHNAME', 'etop_qbr_next_due'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION etop.qbr_next_due(date, text) IS
    'Last QBR date plus the segment''s cadence, clamped to month end (NULL when there is no last QBR)';

CREATE FUNCTION etop.qbr_cadence_status(client_id integer, segment text, last_qbr date,
                                        as_of date, grace_days integer,
                                        OUT cadence text, OUT next_due date, OUT due boolean,
                                        OUT overdue boolean, OUT explanation text)
    AS 'MODULE_PATHNAME', 'etop_qbr_cadence_status'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION etop.qbr_cadence_status(integer, text, date, date, integer) IS
    'Where one client stands on as_of: cadence, next due date, due, overdue and the sentence explaining it';

-- The grace period, validated: a whole number of days, zero or more.
CREATE FUNCTION etop.qbr_grace_days() RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v jsonb := etop.setting('qbr_grace_days');
BEGIN
    IF v IS NULL OR jsonb_typeof(v) <> 'number' OR v::numeric <> trunc(v::numeric)
       OR v::numeric < 0 OR v::numeric > 3650 THEN
        RAISE EXCEPTION 'setting qbr_grace_days must be a whole number of days between 0 and 3650, not %',
                        coalesce(v::text, 'null')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'SELECT etop.setting_set(''qbr_grace_days'', ''14'') restores a valid value.';
    END IF;
    RETURN v::integer;
END
$$;
COMMENT ON FUNCTION etop.qbr_grace_days() IS
    'Days after the next-due date before a QBR counts as overdue (setting qbr_grace_days)';

-- The clients due for a QBR on as_of, most overdue first.  Security invoker:
-- an account manager sees only its own clients.
CREATE FUNCTION etop.due_for_qbr(as_of date DEFAULT current_date)
RETURNS TABLE (client_id integer, name text, segment text, last_qbr_date date, cadence text,
               next_due date, overdue boolean, explanation text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    grace integer := etop.qbr_grace_days();    -- read once, not once per client
BEGIN
    IF due_for_qbr.as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY
    SELECT c.id, c.name::text, nullif(c.segment, '')::text, c.last_qbr_date,
           s.cadence, s.next_due, s.overdue, s.explanation
      FROM etop.clients c
     CROSS JOIN LATERAL etop.qbr_cadence_status(c.id, c.segment, c.last_qbr_date,
                                                due_for_qbr.as_of, grace) s
     WHERE s.due
     ORDER BY s.next_due, c.id;
END
$$;
COMMENT ON FUNCTION etop.due_for_qbr(date) IS
    'Clients due for a QBR on as_of, with cadence, next due date, overdue flag and explanation';

-- Every client's QBR calendar as of today, for BI tools.
CREATE VIEW etop.qbr_calendar WITH (security_invoker = true) AS
WITH g AS MATERIALIZED (SELECT etop.qbr_grace_days() AS days)   -- once, not per client
SELECT c.id AS client_id, c.name, nullif(c.segment, '')::text AS segment, c.last_qbr_date,
       s.cadence, s.next_due, s.next_due + g.days AS overdue_after,
       s.next_due - current_date AS days_until_due, s.due, s.overdue,
       (SELECT j.status FROM etop.qbr_jobs j
         WHERE j.client_id = c.id ORDER BY j.created_at DESC LIMIT 1)::text AS latest_job_status,
       s.explanation
  FROM g
 CROSS JOIN etop.clients c
 CROSS JOIN LATERAL etop.qbr_cadence_status(c.id, c.segment, c.last_qbr_date, current_date, g.days) s;
COMMENT ON VIEW etop.qbr_calendar IS
    'Every client''s last and next QBR date, due/overdue state and newest QBR job, as of today';

-- The cadence follows real meetings, not drafts: when a QBR is approved, the
-- client's last_qbr_date moves to the approval date (reviewed_at, or today
-- when the approver did not record it).  It never moves backwards.
CREATE FUNCTION etop.qbr_approved_moves_cadence() RETURNS trigger
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
COMMENT ON FUNCTION etop.qbr_approved_moves_cadence() IS
    'Trigger: an approved QBR moves its client''s last_qbr_date to the approval date';

CREATE TRIGGER qbr_approved_moves_cadence
    AFTER INSERT OR UPDATE OF status ON etop.qbrs
    FOR EACH ROW WHEN (NEW.status = 'approved')
    EXECUTE FUNCTION etop.qbr_approved_moves_cadence();
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
                         'or run the job in this session: SELECT etop.qbr_run_job(id) FROM etop.job_claim();';
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
CREATE FUNCTION etop.require_pg_cron() RETURNS void
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
COMMENT ON FUNCTION etop.require_pg_cron() IS
    'Raise a clear error unless pg_cron is preloaded, configured for and created in this database';

-- Schedule (or reschedule: pg_cron replaces a job of the same name) one of
-- etop's jobs.  Internal: called by the schedule_* functions below.
CREATE FUNCTION etop.cron_schedule(job_name text, cron_expr text, command text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    PERFORM etop.require_pg_cron();
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
COMMENT ON FUNCTION etop.cron_schedule(text, text, text) IS
    'Internal: schedule an etop:... pg_cron job (replacing one of the same name)';

CREATE FUNCTION etop.schedule_sync(connection text, cron_expr text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM etop.require_pg_cron();
    IF NOT EXISTS (SELECT 1 FROM etop.connections c WHERE c.name = schedule_sync.connection) THEN
        RAISE EXCEPTION 'connection "%" does not exist', schedule_sync.connection
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name, adapter FROM etop.connections lists the connections.';
    END IF;
    RETURN etop.cron_schedule('etop:sync:' || schedule_sync.connection, cron_expr,
                              format('SELECT etop.sync_now(%L)', schedule_sync.connection));
END
$$;
COMMENT ON FUNCTION etop.schedule_sync(text, text) IS
    'Sync a connection on a cron schedule (pg_cron job etop:sync:<connection>)';

CREATE FUNCTION etop.schedule_qbr_check(cron_expr text DEFAULT '0 6 * * *') RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN etop.cron_schedule('etop:qbr-check', cron_expr, 'SELECT etop.run_qbr_check()');
END
$$;
COMMENT ON FUNCTION etop.schedule_qbr_check(text) IS
    'Run the due-for-QBR check on a cron schedule (pg_cron job etop:qbr-check, daily 06:00 by default)';

CREATE FUNCTION etop.schedule_score_snapshots(cron_expr text DEFAULT '0 5 * * *') RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN etop.cron_schedule('etop:score-snapshots', cron_expr, 'SELECT etop.snapshot_scores()');
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
    PERFORM etop.require_pg_cron();
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
CREATE FUNCTION etop.schedule_list()
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
COMMENT ON FUNCTION etop.schedule_list() IS
    'etop''s pg_cron jobs with their latest run (backs the etop.schedules view)';

CREATE VIEW etop.schedules WITH (security_invoker = true) AS
    SELECT * FROM etop.schedule_list();
COMMENT ON VIEW etop.schedules IS
    'etop''s pg_cron jobs (etop:...) with the status, times and message of their latest run';

-- DROP EXTENSION etop removes etop's pg_cron jobs (src/schedules_sql.c): an
-- event trigger of the extension, fired before the drop, that reads which
-- extensions the statement drops and acts only when etop is one of them.
CREATE FUNCTION etop.on_drop_extension() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'etop_on_drop_extension';
COMMENT ON FUNCTION etop.on_drop_extension() IS
    'Event trigger: when DROP EXTENSION drops etop, unschedule this database''s etop:... pg_cron jobs';
CREATE EVENT TRIGGER etop_drop_extension ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION etop.on_drop_extension();
-- QBR PDF rendering (src/qbr_pdf*.c).  The document format is described in
-- docs/qbr-document.md; tests/data/qbr_example.json is a complete example.
CREATE FUNCTION etop.qbr_render_doc(doc jsonb) RETURNS bytea
    AS 'MODULE_PATHNAME', 'etop_qbr_render_doc'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION etop.qbr_render_doc(jsonb) IS
    'Renders a QBR document (jsonb, see docs/qbr-document.md) as a 9-section PDF';
-- A client's QBR document (docs/qbr-document.md) gathered from the database,
-- and its PDF.  Sections 1-9 of the spec: narrative, scores with movement, top
-- risks, wins, tickets per month over the last four quarters with SLA and
-- reopen figures, identity/email/endpoint posture, devices aged 4+ years with
-- 12/24/36-month refresh budgets from etop.setting('unit_costs'), the
-- roadmap from etop.recommendations, and the outcome plan.  Segment never
-- changes the content.

-- JSON from a narrative provider, as strings: an array's elements (objects
-- as their text), a string as itself; anything else NULL.
CREATE FUNCTION etop.json_texts(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE jsonb_typeof(v)
        WHEN 'array' THEN coalesce((SELECT jsonb_agg(CASE jsonb_typeof(e) WHEN 'string' THEN e #>> '{}'
                                                                        ELSE e::text END)
                                      FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'null'), '[]')
        WHEN 'string' THEN jsonb_build_array(v #>> '{}')
        WHEN 'object' THEN (SELECT jsonb_agg(key || ': ' || CASE jsonb_typeof(value) WHEN 'string'
                                                               THEN value #>> '{}' ELSE value::text END)
                              FROM jsonb_each(v))
    END
$$;

-- A narrative reduced to the document's shape, whatever a provider wrote:
-- an LLM may return trends as a list, priorities in capitals, numbers as
-- strings.  Unknown keys are dropped.
CREATE FUNCTION etop.narrative_for_document(n jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'executive_summary', (SELECT to_jsonb(string_agg(x, E'\n\n'))
                                FROM jsonb_array_elements_text(etop.json_texts(n->'executive_summary')) x),
        'trends', (SELECT to_jsonb(string_agg(x, E'\n'))
                     FROM jsonb_array_elements_text(etop.json_texts(n->'trends')) x),
        'recommendations', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                                       'title', coalesce(r->>'title', 'Recommendation'),
                                       'description', r->>'description',
                                       'priority', lower(r->>'priority'), 'effort', lower(r->>'effort'),
                                       'cost_range', r->>'cost_range',
                                       'evidence', etop.json_texts(r->'evidence'))))
                              FROM jsonb_array_elements(CASE WHEN jsonb_typeof(n->'recommendations') = 'array'
                                                             THEN n->'recommendations' ELSE '[]' END) r
                             WHERE jsonb_typeof(r) = 'object'),
        'discussion_points', etop.json_texts(n->'discussion_points'),
        'wins', etop.json_texts(n->'wins')))
$$;

CREATE FUNCTION etop.qbr_document(p_client_id integer, p_narrative jsonb DEFAULT NULL,
                                  p_as_of date DEFAULT current_date, p_draft boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c etop.clients;
    s jsonb;
    narrative jsonb := p_narrative;
    qs date := date_trunc('quarter', p_as_of)::date;
    qe timestamptz := (p_as_of + 1)::timestamptz;
    cur text := etop.setting('currency') #>> '{}';
    doc jsonb;
BEGIN
    SELECT * INTO c FROM etop.clients WHERE id = p_client_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'client % not found', p_client_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'SELECT id, name FROM etop.clients lists the clients you can see.';
    END IF;
    s := etop.etop_scores(p_client_id, p_as_of);
    IF narrative IS NULL THEN
        narrative := etop.narrative_offline(etop.narrative_input(p_client_id, p_as_of));
    END IF;

    doc := jsonb_build_object(
        'version', 1,
        'client', jsonb_build_object('name', c.name, 'segment', c.segment, 'industry', c.industry),
        'period', etop.quarter_label(p_as_of),
        'as_of', p_as_of,
        'draft', p_draft,
        'msp', jsonb_strip_nulls(jsonb_build_object(
                   'name', etop.setting('msp_name') #>> '{}',
                   'accent_color', etop.setting('accent_color') #>> '{}',
                   'logo_png', nullif(etop.setting('logo_png'), 'null'::jsonb) #>> '{}')),
        'scores', jsonb_build_object(
            'standards', jsonb_build_object('score', s->'standards'->'score',
                                            'movement', s->'standards'->'movement'->'text'),
            'risk', jsonb_build_object('score', s->'risk'->'score',
                                       'movement', s->'risk'->'movement'->'text'),
            'experience', jsonb_build_object('score', s->'experience'->'score',
                                             'movement', s->'experience'->'movement'->'text')),
        'narrative', etop.narrative_for_document(narrative),
        'risks', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                       'title', r.title, 'business_impact', coalesce(r.business_impact, r.description),
                       'status', initcap(r.status), 'mitigation', r.mitigation,
                       'likelihood', r.likelihood, 'impact', r.impact))
                   ORDER BY etop.level_rank(r.likelihood) * etop.level_rank(r.impact) DESC, r.detected_at DESC, r.title)
              FROM etop.risks r
             WHERE r.client_id = p_client_id AND r.status = 'open' AND coalesce(r.detected_at < qe, true)), '[]'),
        'service', (
            WITH months AS (
                SELECT generate_series(date_trunc('month', p_as_of) - interval '11 months',
                                       date_trunc('month', p_as_of), interval '1 month') AS m),
            q AS (
                SELECT count(*) AS total, count(*) FILTER (WHERE sla_met) AS sla_met,
                       count(*) FILTER (WHERE sla_met IS NOT NULL) AS sla_total,
                       count(*) FILTER (WHERE reopen_count > 0) AS reopened,
                       count(*) FILTER (WHERE after_hours) AS after_hours
                  FROM etop.tickets t
                 WHERE t.client_id = p_client_id AND t.created_date >= qs AND t.created_date < qe)
            SELECT jsonb_build_object(
                       'tickets_per_month', (SELECT jsonb_agg(jsonb_build_object(
                                                 'month', to_char(months.m, 'YYYY-MM'),
                                                 'count', (SELECT count(*) FROM etop.tickets t
                                                            WHERE t.client_id = p_client_id
                                                              AND t.created_date >= months.m
                                                              AND t.created_date < months.m + interval '1 month'
                                                              AND t.created_date < qe))
                                             ORDER BY months.m) FROM months),
                       'total', q.total, 'sla_met', q.sla_met, 'sla_total', q.sla_total,
                       'reopened', q.reopened, 'after_hours', q.after_hours)
              FROM q),
        'security', (
            SELECT jsonb_object_agg(k.area, jsonb_build_object(
                       'score', CASE WHEN b ? 'score' AND jsonb_typeof(b->'score') = 'number'
                                     THEN round(100 - (b->>'score')::numeric) END,
                       'summary', CASE WHEN (b->>'missing')::boolean THEN 'No data for this area yet.'
                                       ELSE initcap(k.area) || ' risk is ' || (b->>'level') || ' ('
                                            || (b->>'score') || ' of 100; lower is better).' END,
                       'citations', coalesce(b->'evidence'->'citations', '[]')))
              FROM (VALUES ('identity', 'identity_risk'), ('email', 'email_risk'),
                           ('endpoint', 'endpoint_risk')) k(area, component),
                   LATERAL (SELECT s->'risk'->'breakdown'->k.component AS b) x
             WHERE b IS NOT NULL),
        'lifecycle', (
            WITH d AS (
                SELECT x.name, x.type, concat_ws(' ', x.manufacturer, x.model) AS model,
                       round(((p_as_of - x.purchase_date) / 365.25)::numeric, 1) AS age_years,
                       x.warranty_expires,
                       x.purchase_date + make_interval(years => coalesce((etop.setting('lifecycle_years')->>x.type)::int, 4)) AS due,
                       coalesce((etop.setting('unit_costs')->>x.type)::numeric, 0) AS cost
                  FROM etop.devices x
                 WHERE x.client_id = p_client_id AND x.purchase_date IS NOT NULL)
            SELECT jsonb_build_object(
                       'devices', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                               'name', d.name, 'type', d.type, 'model', d.model,
                                               'age_years', d.age_years, 'warranty_expires', d.warranty_expires)
                                             ORDER BY d.age_years DESC, d.name)
                                              FROM d WHERE d.age_years >= 4), '[]'),
                       'budget', jsonb_build_object(
                           'm12', (SELECT coalesce(sum(cost), 0) FROM d WHERE due <= p_as_of + interval '12 months'),
                           'm24', (SELECT coalesce(sum(cost), 0) FROM d WHERE due <= p_as_of + interval '24 months'),
                           'm36', (SELECT coalesce(sum(cost), 0) FROM d WHERE due <= p_as_of + interval '36 months')),
                       'currency', CASE cur WHEN '$' THEN 'USD' WHEN '€' THEN 'EUR' WHEN '£' THEN 'GBP'
                                            ELSE coalesce(cur, 'USD') END)),
        'roadmap', (
            WITH r AS (
                SELECT x.title, x.priority, x.cost_range,
                       CASE WHEN x.quarter IS NULL OR x.quarter = etop.quarter_label(p_as_of) THEN 'now'
                            WHEN x.quarter = etop.quarter_label((qs + interval '3 months')::date) THEN 'next'
                            ELSE 'later' END AS col,
                       x.due_date
                  FROM etop.recommendations x
                 WHERE x.client_id = p_client_id AND x.status IN ('pending', 'approved'))
            SELECT jsonb_build_object(
                'now',   coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('title', title, 'priority', priority, 'cost_range', cost_range)) ORDER BY due_date NULLS LAST, title) FROM r WHERE col = 'now'), '[]'),
                'next',  coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('title', title, 'priority', priority, 'cost_range', cost_range)) ORDER BY due_date NULLS LAST, title) FROM r WHERE col = 'next'), '[]'),
                'later', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('title', title, 'priority', priority, 'cost_range', cost_range)) ORDER BY due_date NULLS LAST, title) FROM r WHERE col = 'later'), '[]'))),
        'outcome_plan', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('action', x.title, 'owner', x.owner,
                                                                  'due_date', x.due_date))
                             ORDER BY x.due_date NULLS LAST, x.title)
              FROM etop.recommendations x
             WHERE x.client_id = p_client_id AND x.status IN ('pending', 'approved')
               AND x.title IS NOT NULL), '[]'));
    RETURN doc;
END
$$;
COMMENT ON FUNCTION etop.qbr_document(integer, jsonb, date, boolean) IS
    'The QBR document of a client (the input of etop.qbr_render_doc), from the database and a narrative';

CREATE FUNCTION etop.qbr_render(client_id integer, narrative jsonb DEFAULT NULL,
                                as_of date DEFAULT current_date)
RETURNS bytea
LANGUAGE sql STABLE
AS $$ SELECT etop.qbr_render_doc(etop.qbr_document(client_id, narrative, as_of)) $$;
COMMENT ON FUNCTION etop.qbr_render(integer, jsonb, date) IS
    'The 9-section QBR PDF of a client (offline narrative when none is given), marked DRAFT';
-- Shared pieces of the set-based normalization functions (docs/adapters.md).
--
-- A sync run leaves its vendor pages in etop.sync_pages (one row per page, the
-- page's JSON array of records).  An adapter's normalization function reads
-- them with etop.sync_records(), checks them declaratively with
-- etop.sync_validate() (which raises a clear error naming the vendor,
-- endpoint, record and field), and then upserts the normalized tables with
-- plain INSERT ... SELECT ... ON CONFLICT statements.  Nothing here loops over
-- records, and nothing commits: the caller's transaction decides.

-- The records array of a page.  Adapters store the array itself; a wrapper
-- object ({"value": [...]} from Graph, {"results": [...]} from paged APIs)
-- is unwrapped too.  NULL when the payload holds no records array.
CREATE FUNCTION etop.sync_page_records(payload jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(payload)
           WHEN 'array' THEN payload
           WHEN 'object' THEN CASE
                WHEN jsonb_typeof(payload -> 'value') = 'array' THEN payload -> 'value'
                WHEN jsonb_typeof(payload -> 'results') = 'array' THEN payload -> 'results'
                WHEN jsonb_typeof(payload -> 'items') = 'array' THEN payload -> 'items' END
           END
$$;
COMMENT ON FUNCTION etop.sync_page_records(jsonb) IS
    'The records array of a sync page (the array itself, or the value/results/items array of a wrapper object)';

-- Every record of a run's pages for the given endpoints (LIKE patterns, so
-- 'company/companies/%/sites' covers per-company paths), with its page and
-- position for error messages.
CREATE FUNCTION etop.sync_records(p_run bigint, p_endpoints text[])
RETURNS TABLE (endpoint text, page integer, item integer, rec jsonb)
LANGUAGE sql STABLE AS $$
    SELECT p.endpoint, p.page, r.item::integer, r.rec
      FROM etop.sync_pages p
     CROSS JOIN LATERAL jsonb_array_elements(
               coalesce(etop.sync_page_records(p.payload), '[]'::jsonb)) WITH ORDINALITY AS r(rec, item)
     WHERE p.run_id = p_run AND p.endpoint LIKE ANY (p_endpoints)
$$;
COMMENT ON FUNCTION etop.sync_records(bigint, text[]) IS
    'The vendor records of a sync run for some endpoints (LIKE patterns), with page and position';

-- The records of sync_records() with each id once: a record delivered twice
-- (paging that overlapped while the vendor's data changed) counts in its
-- last delivery (highest page, then position).  p_dedupe = false (what
-- sync_validate() says when no id repeats) skips the work, so the common
-- case is a plain scan.
CREATE FUNCTION etop.sync_latest(p_run bigint, p_endpoints text[], p_dedupe boolean,
                                 p_id text DEFAULT 'id')
RETURNS TABLE (endpoint text, page integer, item integer, rec jsonb)
LANGUAGE sql STABLE AS $$
    SELECT r.endpoint, r.page, r.item, r.rec
      FROM etop.sync_records(p_run, p_endpoints) r
     WHERE NOT p_dedupe
        OR (r.endpoint, r.page, r.item) NOT IN (
               SELECT x.endpoint, x.page, x.item
                 FROM (SELECT s.endpoint, s.page, s.item,
                              row_number() OVER (PARTITION BY s.rec #> string_to_array(p_id, '.')
                                                 ORDER BY s.page DESC, s.item DESC, s.endpoint DESC) AS rn
                         FROM etop.sync_records(p_run, p_endpoints) s) x
                WHERE x.rn > 1)
$$;
COMMENT ON FUNCTION etop.sync_latest(bigint, text[], boolean, text) IS
    'The records of a sync run for some endpoints, each id once (its last delivery) when p_dedupe';

-- Timestamps as vendors write them: ISO 8601, with or without an offset
-- (without one it is UTC), optional fraction.  Epoch numbers are not
-- timestamps.  The day is checked against the month.
CREATE FUNCTION etop.sync_is_timestamp(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
           WHEN s ~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?([Zz]|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?)?$'
           THEN substr(s, 9, 2) <= '28' OR substr(s, 9, 2)::int <= CASE substr(s, 6, 2)::int
                    WHEN 2 THEN CASE WHEN (substr(s, 1, 4)::int % 4 = 0 AND substr(s, 1, 4)::int % 100 <> 0)
                                          OR substr(s, 1, 4)::int % 400 = 0 THEN 29 ELSE 28 END
                    WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30
                    ELSE 31 END
           ELSE false END
$$;

COMMENT ON FUNCTION etop.sync_is_timestamp(text) IS
    'Whether a string is an ISO 8601 date or timestamp a vendor may send (offset optional, real calendar day)';

-- A vendor timestamp (checked by sync_validate) as timestamptz; no offset
-- means UTC; NULL or '' is NULL.
CREATE FUNCTION etop.sync_ts(s text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN s IS NULL OR s = '' THEN NULL
                WHEN right(s, 1) IN ('Z', 'z') THEN s::timestamptz
                WHEN s ~ '[T ]\d\d:\d\d.*[+-]\d\d(:?\d\d)?$' THEN s::timestamptz
                ELSE s::timestamp AT TIME ZONE 'UTC' END
$$;
COMMENT ON FUNCTION etop.sync_ts(text) IS 'A vendor ISO 8601 timestamp as timestamptz (no offset = UTC)';

-- The calendar date of a vendor timestamp, in UTC ("2024-02-15T00:00:00Z" is
-- 2024-02-15 whatever the session time zone).
CREATE FUNCTION etop.sync_date(s text) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (etop.sync_ts(s) AT TIME ZONE 'UTC')::date
$$;
COMMENT ON FUNCTION etop.sync_date(text) IS 'The UTC calendar date of a vendor timestamp';

-- Serial numbers compared across vendors: case- and space-insensitive, and
-- placeholders firmware writes when it has no serial never match anything.
CREATE FUNCTION etop.serial_key(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN k IS NULL OR length(k) < 4
                  OR k IN ('TOBEFILLEDBYO.E.M.', 'TOBEFILLEDBYOEM', 'DEFAULTSTRING', 'SYSTEMSERIALNUMBER',
                           'NONE', 'NULL', 'N/A', 'UNKNOWN', 'NOTSPECIFIED', 'NOTAPPLICABLE',
                           '0123456789', '123456789', '1234567890', 'CHASSISSERIALNUMBER',
                           'INVALID', 'OEM', 'O.E.M.')
                  OR k ~ '^0+$'
                THEN NULL ELSE k END
      FROM (SELECT upper(regexp_replace(s, '[[:space:]]+', '', 'g')) AS k) x
$$;
COMMENT ON FUNCTION etop.serial_key(text) IS
    'Serial number as compared across vendors (upper case, no spaces; NULL for placeholders such as "To be filled by O.E.M.")';

-- Does a JSON value have the expected kind?  Kinds: string, number, int,
-- boolean, object, array, timestamp, id (a non-empty string or an integer),
-- any; a trailing ! means required (present and not null).
CREATE FUNCTION etop.sync_kind_ok(v jsonb, kind text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- v is looked at once (the CASE's test), so with a constant kind the
    -- inlined expression costs one lookup and a comparison or two
    SELECT CASE coalesce(jsonb_typeof(v), 'null')
           WHEN 'null' THEN right(kind, 1) <> '!'
           WHEN 'string' THEN CASE rtrim(kind, '!')
                WHEN 'string' THEN true WHEN 'any' THEN true
                WHEN 'timestamp' THEN etop.sync_is_timestamp(v #>> '{}')
                                      OR right(kind, 1) <> '!' AND (v #>> '{}') = ''
                WHEN 'id' THEN btrim(v #>> '{}') <> ''
                ELSE false END
           WHEN 'number' THEN CASE rtrim(kind, '!')
                WHEN 'number' THEN true WHEN 'any' THEN true
                WHEN 'int' THEN (v #>> '{}') ~ '^-?\d+$'
                WHEN 'id' THEN (v #>> '{}') ~ '^-?\d+$'
                ELSE false END
           WHEN 'boolean' THEN rtrim(kind, '!') IN ('boolean', 'any')
           WHEN 'object' THEN rtrim(kind, '!') IN ('object', 'any')
           WHEN 'array' THEN rtrim(kind, '!') IN ('array', 'any')
           ELSE false END
$$;
COMMENT ON FUNCTION etop.sync_kind_ok(jsonb, text) IS
    'Whether a vendor JSON value has the expected kind (string, number, int, boolean, object, array, timestamp, id, any; ! = required)';

-- A JSON path with dots ("company.id") as an expression on a jsonb value
-- (x -> 'company' -> 'id'), for the checks sync_validate() generates.
CREATE FUNCTION etop.sync_json_path(p_var text, p_path text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_var || string_agg(' -> ' || quote_literal(k), '' ORDER BY o)
      FROM unnest(string_to_array(p_path, '.')) WITH ORDINALITY u(k, o)
$$;
COMMENT ON FUNCTION etop.sync_json_path(text, text) IS 'A dotted JSON path as a chain of -> operators (for generated checks)';

-- How a record is named in messages: by its id when it has a usable one,
-- else by its position.
CREATE FUNCTION etop.sync_record_label(v jsonb, page integer, item integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) IN ('string', 'number') AND btrim(v #>> '{}') <> ''
                THEN left(v #>> '{}', 100)
                ELSE format('#%s on page %s', item, page) END
$$;

COMMENT ON FUNCTION etop.sync_record_label(jsonb, integer, integer) IS
    'How error messages name a vendor record: its id, else "#n on page p"';

-- Raise the error of a bad vendor record.  Usable inside a set-based
-- statement (coalesce(x, etop.sync_fail(...))): it is only evaluated for the
-- bad record, and it never returns.
CREATE FUNCTION etop.sync_fail(p_vendor text, p_endpoint text, p_record text, p_problem text,
                               p_errcode text DEFAULT 'invalid_parameter_value',
                               p_hint text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '% % record %: %', p_vendor, p_endpoint, p_record, p_problem
        USING ERRCODE = p_errcode,
              HINT = coalesce(p_hint, 'The sync run fails as a whole and changes no normalized row; '
                                      'the vendor pages stay in etop.sync_pages for diagnosis.');
END
$$;
COMMENT ON FUNCTION etop.sync_fail(text, text, text, text, text, text) IS
    'Raise a clear error for a bad vendor record (usable inside set-based statements; never returns)';

-- Check a run's records of some endpoints against field specifications and
-- raise on the first bad one.  Returns how many records there are (with
-- p_nested: array elements) and how many repeat an earlier record's id (a
-- record delivered twice, e.g. when paging overlapped; see sync_latest).
--   p_fields: {"path.to.field": "kind[!]", ...}  (see sync_kind_ok; paths use dots)
--   p_id:     the path of the record's id, used to name the record
--   p_nested: when given, the check applies to the elements of this array
--             field of each record (e.g. a secure score's controlScores), and
--             p_nested_id names those elements
--   p_hint:   put before the standard hint (e.g. which $select the adapter needs)
-- Errors (SQLSTATE): 22023 a page or record is not what the contract says or
-- a field has the wrong type; 22004 a required field is missing or null;
-- 22007 a timestamp cannot be parsed.
CREATE FUNCTION etop.sync_validate(p_run bigint, p_vendor text, p_endpoints text[],
                                   p_id text, p_fields jsonb,
                                   p_nested text DEFAULT NULL, p_nested_id text DEFAULT NULL,
                                   p_hint text DEFAULT NULL,
                                   OUT records bigint, OUT duplicates bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
-- (a Memoize node keyed on whole records would hash every record)
SET enable_memoize = off AS $$
DECLARE
    bad record;
    bad_page record;
    first_bad jsonb;
    extract_list text;
    check_expr text;
    bad_pos integer[];
    bad_endpoint text;
    got text;
    want text;
    hint text := coalesce(p_hint || ' ', '')
                 || 'The sync run fails as a whole and changes no normalized row; the vendor pages '
                 'stay in etop.sync_pages for diagnosis.';
BEGIN
    -- Pages must hold an array of records.
    SELECT p.endpoint, p.page, jsonb_typeof(p.payload) AS t INTO bad_page
      FROM etop.sync_pages p
     WHERE p.run_id = p_run AND p.endpoint LIKE ANY (p_endpoints)
       AND etop.sync_page_records(p.payload) IS NULL
     ORDER BY p.endpoint, p.page LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% % page %: the payload is a JSON %, not the array of records',
                        p_vendor, bad_page.endpoint, bad_page.page, bad_page.t
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;

    -- Records are objects with the fields the specification asks for.  The
    -- check is generated SQL: each field's value is extracted once per record
    -- (v1, v2, ...), and each check has a constant kind, which the planner
    -- folds to a comparison or two.  One pass counts the records and finds
    -- the first bad one; only that record is then examined field by field
    -- for the message.
    SELECT string_agg(format('%s AS v%s', etop.sync_json_path('x', f.key), f.n), ', ' ORDER BY f.n),
           string_agg(format('etop.sync_kind_ok(y.v%s, %L)', f.n, f.value), E'\n AND ' ORDER BY f.n)
      INTO extract_list, check_expr
      FROM (SELECT key, value, row_number() OVER (ORDER BY length(key), key) AS n
              FROM jsonb_each_text(p_fields)) f;
    IF p_nested IS NULL THEN
        EXECUTE format($q$
            SELECT count(*), count(*) - count(DISTINCT r.id),
                   (array_agg(ARRAY[r.page, r.item] ORDER BY r.endpoint, r.page, r.item)
                        FILTER (WHERE NOT r.ok))[1:1],
                   (array_agg(r.endpoint ORDER BY r.endpoint, r.page, r.item) FILTER (WHERE NOT r.ok))[1]
              FROM (SELECT s.endpoint, s.page, s.item, (s.rec #> %L)::text COLLATE "C" AS id,
                           jsonb_typeof(s.rec) = 'object' AND %s AS ok
                      FROM etop.sync_records($1, $2) s
                     CROSS JOIN LATERAL (SELECT %s FROM (SELECT s.rec AS x) x0 OFFSET 0) y) r$q$,
            string_to_array(p_id, '.'), coalesce(check_expr, 'true'), coalesce(extract_list, '1 AS v0'))
            INTO records, duplicates, bad_pos, bad_endpoint USING p_run, p_endpoints;
    ELSE
        EXECUTE format($q$
            SELECT count(*), 0,
                   (array_agg(ARRAY[r.page, r.item] ORDER BY r.endpoint, r.page, r.item, r.pos)
                        FILTER (WHERE NOT r.ok))[1:1],
                   (array_agg(r.endpoint ORDER BY r.endpoint, r.page, r.item, r.pos) FILTER (WHERE NOT r.ok))[1]
              FROM (SELECT s.endpoint, s.page, s.item, e.pos,
                           jsonb_typeof(e.x) = 'object' AND %s AS ok
                      FROM etop.sync_records($1, $2) s
                     CROSS JOIN LATERAL jsonb_array_elements(
                           CASE WHEN jsonb_typeof(s.rec -> %L) = 'array' THEN s.rec -> %L ELSE '[]' END)
                           WITH ORDINALITY e(x, pos)
                     CROSS JOIN LATERAL (SELECT %s FROM (SELECT e.x) x0 OFFSET 0) y) r$q$,
            coalesce(check_expr, 'true'), p_nested, p_nested, coalesce(extract_list, '1 AS v0'))
            INTO records, duplicates, bad_pos, bad_endpoint USING p_run, p_endpoints;
    END IF;
    IF bad_pos IS NULL THEN
        RETURN;
    END IF;

    -- The bad record: which field, in the order of the specification's keys.
    WITH f AS (SELECT key, value AS kind, string_to_array(key, '.') AS path FROM jsonb_each_text(p_fields))
    SELECT jsonb_build_object(
               'endpoint', r.endpoint, 'page', r.page, 'item', r.item, 'type', jsonb_typeof(el.x),
               'label', CASE WHEN jsonb_typeof(r.rec) = 'object'
                             THEN etop.sync_record_label(r.rec #> string_to_array(p_id, '.'), r.page, r.item)
                             ELSE format('#%s on page %s', r.item, r.page) END
                        || CASE WHEN p_nested IS NULL THEN ''
                                ELSE format(' %s[%s]', p_nested, el.pos - 1)
                                     || coalesce(' (' || (el.x #>> string_to_array(p_nested_id, '.')) || ')', '') END,
               'field', b.key, 'kind', b.kind, 'v', b.v)
      INTO first_bad
      FROM etop.sync_records(p_run, ARRAY[bad_endpoint]) r
     CROSS JOIN LATERAL (SELECT r.rec AS x, 0::bigint AS pos WHERE p_nested IS NULL
                         UNION ALL
                         SELECT e.x, e.pos
                           FROM jsonb_array_elements(CASE WHEN p_nested IS NOT NULL
                                                               AND jsonb_typeof(r.rec -> p_nested) = 'array'
                                                          THEN r.rec -> p_nested ELSE '[]' END)
                                WITH ORDINALITY e(x, pos)) el
     CROSS JOIN LATERAL (
           SELECT f.key, f.kind, el.x #> f.path AS v FROM f
            WHERE jsonb_typeof(el.x) <> 'object' OR NOT etop.sync_kind_ok(el.x #> f.path, f.kind)
            ORDER BY length(f.key), f.key LIMIT 1) b
     WHERE r.page = bad_pos[1][1] AND r.item = bad_pos[1][2]
     ORDER BY el.pos LIMIT 1;
    IF first_bad IS NULL THEN         -- cannot happen; never let a bad record through
        RAISE EXCEPTION '% % record #% on page %: does not match its specification', p_vendor,
                        bad_endpoint, bad_pos[1][2], bad_pos[1][1]
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
    IF first_bad ->> 'type' <> 'object' THEN
        RAISE EXCEPTION '% % record %: is a JSON %, not an object', p_vendor, first_bad ->> 'endpoint',
                        first_bad ->> 'label', first_bad ->> 'type'
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
    SELECT * INTO bad FROM jsonb_to_record(first_bad)
        AS x(endpoint text, page integer, item integer, label text, field text, kind text, v jsonb);
    want := CASE rtrim(bad.kind, '!')
            WHEN 'string' THEN 'a string' WHEN 'number' THEN 'a number'
            WHEN 'int' THEN 'an integer' WHEN 'boolean' THEN 'true or false'
            WHEN 'object' THEN 'an object' WHEN 'array' THEN 'an array'
            WHEN 'timestamp' THEN 'an ISO 8601 timestamp string'
            WHEN 'id' THEN 'a non-empty string or an integer'
            ELSE bad.kind END;
    IF bad.v IS NULL OR jsonb_typeof(bad.v) = 'null' THEN
        RAISE EXCEPTION '% % record %: required field "%" is %', p_vendor, bad.endpoint, bad.label,
                        bad.field, CASE WHEN bad.v IS NULL THEN 'missing' ELSE 'null' END
            USING ERRCODE = 'null_value_not_allowed',
                  DETAIL = format('Page %s, record %s of the page; expected %s.', bad.page, bad.item, want),
                  HINT = hint;
    END IF;
    got := CASE jsonb_typeof(bad.v)
           WHEN 'string' THEN format('a string (%s)', left(bad.v::text, 60))
           WHEN 'number' THEN format('a number (%s)', left(bad.v::text, 60))
           WHEN 'boolean' THEN format('a boolean (%s)', bad.v::text)
           WHEN 'object' THEN 'an object' WHEN 'array' THEN 'an array' END;
    IF rtrim(bad.kind, '!') = 'timestamp' AND jsonb_typeof(bad.v) = 'string' THEN
        RAISE EXCEPTION '% % record %: field "%" is not a valid timestamp: %', p_vendor,
                        bad.endpoint, bad.label, bad.field, left(bad.v::text, 60)
            USING ERRCODE = 'invalid_datetime_format',
                  DETAIL = format('Page %s, record %s of the page; expected %s.', bad.page, bad.item, want),
                  HINT = hint;
    END IF;
    RAISE EXCEPTION '% % record %: field "%" is %, expected %', p_vendor, bad.endpoint, bad.label,
                    bad.field, got, want
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = format('Page %s, record %s of the page.', bad.page, bad.item),
              HINT = hint;
END
$$;
COMMENT ON FUNCTION etop.sync_validate(bigint, text, text[], text, jsonb, text, text, text) IS
    'Check the vendor records of a sync run against field specs; raise a clear error on the first bad one';

-- The options of the connection a run belongs to ({} when it has none);
-- raises when the run does not exist.
CREATE FUNCTION etop.sync_run_options(p_run bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    opts jsonb;
BEGIN
    SELECT coalesce(c.options, '{}') INTO opts
      FROM etop.sync_runs r LEFT JOIN etop.connections c ON c.id = r.connection_id
     WHERE r.id = p_run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'sync run % does not exist', p_run
            USING ERRCODE = 'no_data_found', HINT = 'SELECT * FROM etop.sync_runs lists the runs.';
    END IF;
    IF jsonb_typeof(opts) <> 'object' THEN
        RAISE EXCEPTION 'the options of the connection of sync run % are not a JSON object', p_run
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN opts;
END
$$;
COMMENT ON FUNCTION etop.sync_run_options(bigint) IS 'The options jsonb of the connection of a sync run';
-- ConnectWise Manage -> clients, sites, contacts, agreements, devices, tickets.
-- Endpoints (etop.sync_pages.endpoint): company/companies, company/sites (or
-- company/companies/{id}/sites), company/contacts, finance/agreements,
-- company/configurations, service/tickets.  The mapping, field by field, is in
-- docs/adapters.md.

-- A ConnectWise time-zone setup name ("US Eastern", "Eastern Standard
-- Time", "(UTC-05:00) Eastern Time (US & Canada)") or an IANA name as an IANA
-- name; connections.options.time_zone_map ({"<name>": "<IANA name>"}) comes
-- first.  NULL when unknown.
CREATE FUNCTION etop.cw_time_zone(p_name text, p_opts jsonb DEFAULT '{}') RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text := lower(btrim(regexp_replace(coalesce(p_name, ''), '^\(UTC[^)]*\)\s*', '')));
    z text;
BEGIN
    IF k = '' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_opts -> 'time_zone_map') = 'object' THEN
        z := p_opts -> 'time_zone_map' ->> p_name;
    END IF;
    z := coalesce(z, CASE
        WHEN k ~ '^(us )?eastern|^(est|edt|us/eastern)$' THEN 'America/New_York'
        WHEN k ~ '^(us )?central( standard| time| daylight|$)|^(cst|cdt|us/central)$' THEN 'America/Chicago'
        WHEN k ~ '^(us )?arizona|^us mountain standard time$' THEN 'America/Phoenix'
        WHEN k ~ '^(us )?mountain|^(mst|mdt|us/mountain)$' THEN 'America/Denver'
        WHEN k ~ '^(us )?pacific|^(pst|pdt|us/pacific)$' THEN 'America/Los_Angeles'
        WHEN k ~ '^(us )?alask' THEN 'America/Anchorage'
        WHEN k ~ '^(us )?hawai' THEN 'Pacific/Honolulu'
        WHEN k ~ '^atlantic' THEN 'America/Halifax'
        WHEN k ~ '^newfoundland' THEN 'America/St_Johns'
        WHEN k ~ '^gmt standard time|^(uk|united kingdom|london)' THEN 'Europe/London'
        WHEN k ~ '^(w\. europe|central europe|romance|central european)' THEN 'Europe/Berlin'
        WHEN k ~ '^aus eastern' THEN 'Australia/Sydney'
        WHEN k ~ '^e\. australia' THEN 'Australia/Brisbane'
        WHEN k ~ '^new zealand' THEN 'Pacific/Auckland'
        WHEN k IN ('utc', 'gmt', 'coordinated universal time') THEN 'UTC'
        ELSE btrim(p_name) END);
    BEGIN
        PERFORM now() AT TIME ZONE z;           -- a name PostgreSQL knows?
    EXCEPTION WHEN invalid_parameter_value THEN
        RETURN NULL;
    END;
    RETURN z;
END
$$;
COMMENT ON FUNCTION etop.cw_time_zone(text, jsonb) IS
    'IANA time zone of a ConnectWise time-zone setup name (options.time_zone_map first); NULL when unknown';

-- A ConnectWise configuration type as an etop device type; options.device_type_map
-- ({"<type name>": "endpoint|server|network"}) comes first.  The OS decides
-- when the type name says nothing.  NULL when unknown.
CREATE FUNCTION etop.cw_device_type(p_type text, p_os text, p_opts jsonb DEFAULT '{}') RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN jsonb_typeof(p_opts -> 'device_type_map' -> p_type) = 'string'
             AND p_opts -> 'device_type_map' ->> p_type IN ('endpoint', 'server', 'network')
            THEN p_opts -> 'device_type_map' ->> p_type
        WHEN p_type ~* '\m(server|srv|host|hypervisor|esxi|hyper-v|domain controller|nas|san|virtual machine|vm)\M'
            THEN 'server'
        WHEN p_type ~* '(firewall|router|switch|access point|\map\M|wireless|network|gateway|modem|\mwan\M|vpn|load balancer)'
            THEN 'network'
        WHEN p_type ~* '(workstation|desktop|laptop|notebook|\mpc\M|tablet|computer|macbook|imac|surface|thin client|chromebook|kiosk)'
            THEN 'endpoint'
        WHEN p_os ~* 'server' THEN 'server'
        WHEN p_os ~* '(windows|mac ?os|os x|chrome ?os)' THEN 'endpoint'
    END
$$;
COMMENT ON FUNCTION etop.cw_device_type(text, text, jsonb) IS
    'etop device type (endpoint/server/network) of a ConnectWise configuration type name (options.device_type_map first)';

-- A ConnectWise priority name as critical/high/medium/low: "Priority N - ..."
-- by its number (1 critical, 2 high, 3 medium, 4+ low), else by its words;
-- options.priority_map ({"<name>": "high"}) comes first.
CREATE FUNCTION etop.cw_priority(p_name text, p_sort integer, p_opts jsonb DEFAULT '{}') RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_opts -> 'priority_map' ->> p_name IN ('critical', 'high', 'medium', 'low')
            THEN p_opts -> 'priority_map' ->> p_name
        WHEN p_name ~* 'priority\s*[0-9]+' THEN
            CASE least(substring(p_name FROM '(?i)priority\s*([0-9]+)')::numeric, 4)
                WHEN 1 THEN 'critical' WHEN 2 THEN 'high' WHEN 3 THEN 'medium' ELSE 'low' END
        WHEN p_name ~* '(emergency|critical|urgent)' THEN 'critical'
        WHEN p_name ~* '(high|quick)' THEN 'high'
        WHEN p_name ~* '(normal|medium|standard)' THEN 'medium'
        WHEN p_name ~* '(low|schedule|maintenance|planned)' THEN 'low'
        WHEN p_sort BETWEEN 1 AND 3 THEN (ARRAY['critical', 'high', 'medium'])[p_sort]
        WHEN p_sort >= 4 THEN 'low'
    END
$$;
COMMENT ON FUNCTION etop.cw_priority(text, integer, jsonb) IS
    'critical/high/medium/low of a ConnectWise priority ("Priority 1 - ..." = critical; options.priority_map first)';

-- Rows a ConnectWise record moved to another company: move them to the new
-- client, so an upsert updates them instead of creating a second row.  Only
-- records not yet in their company's client can have moved (index probes);
-- those are looked up across clients with one hash join.
CREATE FUNCTION etop.cw_move_records(p_run bigint, p_table text, p_endpoints text[]) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET enable_nestloop = on AS $$
DECLARE
    v_ext text[];
    v_client integer[];
    n bigint;
BEGIN
    -- The run's records and their clients, as arrays: probing the unique
    -- index from unnest() gives the planner one way only, the full key,
    -- whatever the table's statistics say.
    SELECT array_agg(s.ext), array_agg(c.id) INTO v_ext, v_client
      FROM (SELECT r.rec ->> 'id' AS ext,
                   coalesce(r.rec -> 'company' ->> 'id',
                            substring(r.endpoint FROM '^company/companies/(\d+)/sites$')) AS company
              FROM etop.sync_records(p_run, p_endpoints) r) s
      JOIN etop.clients c ON c.source = 'connectwise' AND c.external_id = s.company;
    IF v_ext IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format($q$
        SELECT array_agg(u.ext), array_agg(u.client_id)
          FROM unnest($1, $2) u(ext, client_id)
         WHERE NOT EXISTS (SELECT 1 FROM etop.%1$I x
                            WHERE x.client_id = u.client_id AND x.source = 'connectwise'
                              AND x.external_id = u.ext)$q$, p_table)
        INTO v_ext, v_client USING v_ext, v_client;
    IF v_ext IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM set_config('enable_nestloop', 'off', true);   -- until this function returns
    EXECUTE format($q$
        UPDATE etop.%1$I t SET client_id = m.client_id, updated_at = now()
          FROM (SELECT DISTINCT ON (ext) ext, client_id FROM unnest($1, $2) u(ext, client_id) ORDER BY ext) m
         WHERE t.source = 'connectwise' AND t.external_id = m.ext AND t.client_id <> m.client_id$q$,
        p_table) USING v_ext, v_client;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION etop.cw_move_records(bigint, text, text[]) IS
    'Move rows whose ConnectWise record now belongs to another company to that client (no duplicate rows)';

CREATE FUNCTION etop.normalize_connectwise(run_id bigint) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_run      bigint := normalize_connectwise.run_id;
    v_vendor   constant text := 'ConnectWise';
    v_opts     jsonb;
    v_as_of    date;
    v_skip     boolean;      -- options.unknown_companies = 'skip'
    v_default_tz text;
    v_site_tz  jsonb;
    v_company_tz jsonb;
    v_bh_start time;
    v_bh_end   time;
    v_bh_days  int[];
    v_fk_hint  constant text := 'Sync company/companies in the same run, or set connection option '
                                'unknown_companies = "skip" to leave out records of companies etop does not know.';
    n_clients bigint := 0; n_sites bigint := 0; n_contacts bigint := 0; n_agreements bigint := 0;
    n_devices bigint := 0; n_tickets bigint := 0;
    s_contacts bigint := 0; s_other bigint := 0;
    d_companies boolean; d_sites boolean; d_contacts boolean; d_agreements boolean;
    d_devices boolean; d_tickets boolean;   -- a record delivered twice in the run
    ep_sites constant text[] := ARRAY['company/sites', 'company/companies/%/sites'];
    result jsonb;
BEGIN
    -- ConnectWise and Immy.Bot both decide which device a serial number is:
    -- one at a time (until the sync's transaction ends), so two syncs
    -- finishing together cannot both create the device.
    PERFORM pg_advisory_xact_lock(1702129520, 1);    -- 'etop', devices
    v_opts := etop.sync_run_options(v_run);
    SELECT (coalesce(r.started_at, r.queued_at) AT TIME ZONE 'UTC')::date INTO v_as_of
      FROM etop.sync_runs r WHERE r.id = v_run;

    -- Options, checked before anything is written.
    IF v_opts ? 'unknown_companies' AND coalesce(v_opts ->> 'unknown_companies', '') NOT IN ('error', 'skip') THEN
        RAISE EXCEPTION 'connection option unknown_companies must be "error" or "skip", not %',
                        v_opts -> 'unknown_companies' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_skip := coalesce(v_opts ->> 'unknown_companies', 'error') = 'skip';
    IF v_opts ? 'time_zone' THEN
        v_default_tz := etop.cw_time_zone(v_opts ->> 'time_zone', v_opts);
        IF v_default_tz IS NULL THEN
            RAISE EXCEPTION 'connection option time_zone % is not a time zone PostgreSQL knows',
                            v_opts -> 'time_zone'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use an IANA name such as "America/New_York" (SELECT name FROM pg_timezone_names).';
        END IF;
    END IF;
    v_default_tz := coalesce(v_default_tz, 'UTC');
    BEGIN
        v_bh_start := coalesce(v_opts -> 'business_hours' ->> 'start', '08:00')::time;
        v_bh_end := coalesce(v_opts -> 'business_hours' ->> 'end', '18:00')::time;
        v_bh_days := coalesce(ARRAY(SELECT jsonb_array_elements_text(v_opts -> 'business_hours' -> 'days'))::int[],
                              '{1,2,3,4,5}');
        IF cardinality(v_bh_days) = 0 THEN
            v_bh_days := '{1,2,3,4,5}';
        END IF;
    EXCEPTION WHEN data_exception OR invalid_text_representation OR datatype_mismatch
                   OR invalid_parameter_value THEN
        RAISE EXCEPTION 'connection option business_hours % is not {"start": "HH:MM", "end": "HH:MM", "days": [1..7]}',
                        v_opts -> 'business_hours' USING ERRCODE = 'invalid_parameter_value';
    END;

    -- Every record is checked before anything is written.
    SELECT records, duplicates > 0 INTO n_clients, d_companies
      FROM etop.sync_validate(v_run, v_vendor, '{company/companies}', 'id', $j${
        "id": "int!", "name": "string!", "identifier": "string", "market": "object", "market.name": "string",
        "timeZoneSetup": "object", "timeZoneSetup.name": "string", "_info": "object",
        "_info.lastUpdated": "timestamp"}$j$);
    SELECT records, duplicates > 0 INTO n_sites, d_sites
      FROM etop.sync_validate(v_run, v_vendor, ep_sites, 'id', $j${
        "id": "int!", "name": "string", "company": "object", "company.id": "int",
        "addressLine1": "string", "addressLine2": "string", "city": "string", "zip": "string",
        "stateReference": "object", "stateReference.identifier": "string", "country": "object",
        "country.name": "string", "timeZone": "object", "timeZone.name": "string"}$j$);
    SELECT records, duplicates > 0 INTO n_contacts, d_contacts
      FROM etop.sync_validate(v_run, v_vendor, '{company/contacts}', 'id', $j${
        "id": "int!", "firstName": "string", "lastName": "string", "title": "string",
        "company": "object", "company.id": "int", "communicationItems": "array",
        "defaultPhoneNbr": "string", "types": "array"}$j$);
    SELECT records, duplicates > 0 INTO n_agreements, d_agreements
      FROM etop.sync_validate(v_run, v_vendor, '{finance/agreements}', 'id', $j${
        "id": "int!", "name": "string", "type": "object", "type.name": "string",
        "company": "object!", "company.id": "int!", "billAmount": "number", "billingCycle": "object",
        "billingCycle.name": "string", "startDate": "timestamp", "endDate": "timestamp",
        "noEndingDateFlag": "boolean", "cancelledFlag": "boolean", "dateCancelled": "timestamp",
        "oneTimeFlag": "boolean", "_info": "object", "_info.lastUpdated": "timestamp"}$j$);
    SELECT records, duplicates > 0 INTO n_devices, d_devices
      FROM etop.sync_validate(v_run, v_vendor, '{company/configurations}', 'id', $j${
        "id": "int!", "name": "string!", "type": "object", "type.name": "string",
        "company": "object!", "company.id": "int!", "site": "object", "site.id": "int",
        "serialNumber": "string", "modelNumber": "string", "manufacturer": "object",
        "manufacturer.name": "string", "osType": "string", "purchaseDate": "timestamp",
        "warrantyExpirationDate": "timestamp", "_info": "object", "_info.lastUpdated": "timestamp"}$j$);
    SELECT records, duplicates > 0 INTO n_tickets, d_tickets
      FROM etop.sync_validate(v_run, v_vendor, '{service/tickets}', 'id', $j${
        "id": "int!", "summary": "string!", "company": "object!", "company.id": "int!",
        "site": "object", "site.id": "int", "board": "object", "board.name": "string",
        "type": "object", "type.name": "string", "subType": "object", "subType.name": "string",
        "priority": "object", "priority.name": "string", "priority.sort": "int",
        "status": "object", "status.name": "string", "actualHours": "number",
        "isInSla": "boolean", "closedFlag": "boolean", "closedDate": "timestamp",
        "configurations": "array", "_info": "object!", "_info.dateEntered": "timestamp!",
        "_info.lastUpdated": "timestamp"}$j$);

    -- Clients (company/companies).  Segment, compliance and last QBR date are
    -- the MSP's, never overwritten; MRR and agreement dates follow the
    -- agreements below.
    WITH src AS (
        SELECT r.rec
          FROM etop.sync_latest(v_run, '{company/companies}', d_companies) r)
    INSERT INTO etop.clients AS c (external_id, source, name, industry)
    SELECT rec ->> 'id', 'connectwise',
           left(coalesce(nullif(btrim(rec ->> 'name'), ''), nullif(btrim(rec ->> 'identifier'), ''),
                         'ConnectWise company ' || (rec ->> 'id')), 255),
           left(nullif(btrim(rec -> 'market' ->> 'name'), ''), 100)
      FROM src
    ON CONFLICT (source, external_id) DO UPDATE
       SET name = excluded.name, industry = coalesce(excluded.industry, c.industry), updated_at = now()
     WHERE (c.name, c.industry) IS DISTINCT FROM (excluded.name, coalesce(excluded.industry, c.industry));
    SELECT count(DISTINCT r.rec ->> 'id') INTO n_clients FROM etop.sync_records(v_run, '{company/companies}') r;

    -- Time zones for after-hours: the ticket's site's, else its company's,
    -- else options.time_zone, else UTC.
    SELECT coalesce(jsonb_object_agg(s.id, s.tz) FILTER (WHERE s.tz IS NOT NULL), '{}') INTO v_site_tz
      FROM (SELECT x.id, etop.cw_time_zone(x.tzname, v_opts) AS tz
              FROM (SELECT r.rec ->> 'id' AS id, r.rec -> 'timeZone' ->> 'name' AS tzname
                      FROM etop.sync_latest(v_run, ep_sites, d_sites) r) x) s;
    SELECT coalesce(jsonb_object_agg(s.id, s.tz) FILTER (WHERE s.tz IS NOT NULL), '{}') INTO v_company_tz
      FROM (SELECT x.id, etop.cw_time_zone(x.tzname, v_opts) AS tz
              FROM (SELECT r.rec ->> 'id' AS id,
                           r.rec -> 'timeZoneSetup' ->> 'name' AS tzname
                      FROM etop.sync_latest(v_run, '{company/companies}', d_companies) r) x) s;

    -- Sites.
    PERFORM etop.cw_move_records(v_run, 'sites', ep_sites);
    WITH src AS (
        SELECT r.endpoint, r.rec,
               coalesce(r.rec -> 'company' ->> 'id',
                        substring(r.endpoint FROM '^company/companies/(\d+)/sites$')) AS company
          FROM etop.sync_latest(v_run, ep_sites, d_sites) r),
    res AS (
        SELECT s.rec, CASE WHEN c.id IS NULL AND v_skip AND s.company IS NOT NULL THEN NULL
                           ELSE coalesce(c.id, etop.sync_fail(v_vendor, s.endpoint, s.rec ->> 'id',
                                    CASE WHEN s.company IS NULL THEN 'has no company'
                                         ELSE format('refers to company %s, which is neither in this sync run nor in etop.clients', s.company) END,
                                    'foreign_key_violation', v_fk_hint)) END AS client_id
          FROM src s LEFT JOIN etop.clients c ON c.source = 'connectwise' AND c.external_id = s.company),
    up AS (
        INSERT INTO etop.sites AS t (client_id, source, external_id, name, address)
        SELECT client_id, 'connectwise', rec ->> 'id', left(nullif(btrim(rec ->> 'name'), ''), 255),
               nullif(concat_ws(', ', nullif(btrim(rec ->> 'addressLine1'), ''), nullif(btrim(rec ->> 'addressLine2'), ''),
                                nullif(btrim(rec ->> 'city'), ''),
                                nullif(concat_ws(' ', nullif(btrim(rec -> 'stateReference' ->> 'identifier'), ''),
                                                 nullif(btrim(rec ->> 'zip'), '')), ''),
                                nullif(btrim(rec -> 'country' ->> 'name'), '')), '')
          FROM res WHERE client_id IS NOT NULL
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET name = excluded.name, address = excluded.address, updated_at = now()
         WHERE (t.name, t.address) IS DISTINCT FROM (excluded.name, excluded.address))
    SELECT count(*) FILTER (WHERE client_id IS NOT NULL), count(*) FILTER (WHERE client_id IS NULL)
      INTO n_sites, s_other FROM res;

    -- Contacts.  Contacts of no company (vendors, prospects) are left out.
    PERFORM etop.cw_move_records(v_run, 'contacts', '{company/contacts}');
    WITH src AS (
        SELECT r.endpoint, r.rec, r.rec -> 'company' ->> 'id' AS company
          FROM etop.sync_latest(v_run, '{company/contacts}', d_contacts) r),
    res AS (
        SELECT s.rec, s.company,
               CASE WHEN s.company IS NULL OR (c.id IS NULL AND v_skip) THEN NULL
                    ELSE coalesce(c.id, etop.sync_fail(v_vendor, s.endpoint, s.rec ->> 'id',
                             format('refers to company %s, which is neither in this sync run nor in etop.clients', s.company),
                             'foreign_key_violation', v_fk_hint)) END AS client_id
          FROM src s LEFT JOIN etop.clients c ON c.source = 'connectwise' AND c.external_id = s.company),
    up AS (
        INSERT INTO etop.contacts AS t (client_id, source, external_id, name, role, email, phone)
        SELECT client_id, 'connectwise', rec ->> 'id',
               left(nullif(btrim(concat_ws(' ', btrim(rec ->> 'firstName'), btrim(rec ->> 'lastName'))), ''), 255),
               left(coalesce(nullif(btrim(rec ->> 'title'), ''),
                             CASE WHEN jsonb_typeof(rec -> 'types' -> 0 -> 'name') = 'string'
                                  THEN nullif(btrim(rec -> 'types' -> 0 ->> 'name'), '') END), 100),
               left((SELECT btrim(ci ->> 'value')
                       FROM jsonb_array_elements(CASE WHEN jsonb_typeof(rec -> 'communicationItems') = 'array'
                                                      THEN rec -> 'communicationItems' ELSE '[]' END)
                            WITH ORDINALITY x(ci, o)
                      WHERE jsonb_typeof(ci -> 'value') = 'string' AND ci ->> 'value' LIKE '%_@_%'
                        AND (ci ->> 'communicationType' = 'Email' OR ci -> 'type' ->> 'name' ILIKE '%mail%')
                      ORDER BY coalesce(ci -> 'defaultFlag' = 'true', false) DESC, o LIMIT 1), 255),
               left(coalesce(nullif(btrim(rec ->> 'defaultPhoneNbr'), ''),
                             (SELECT btrim(ci ->> 'value')
                                FROM jsonb_array_elements(CASE WHEN jsonb_typeof(rec -> 'communicationItems') = 'array'
                                                               THEN rec -> 'communicationItems' ELSE '[]' END)
                                     WITH ORDINALITY x(ci, o)
                               WHERE jsonb_typeof(ci -> 'value') = 'string' AND ci ->> 'communicationType' = 'Phone'
                               ORDER BY coalesce(ci -> 'defaultFlag' = 'true', false) DESC, o LIMIT 1)), 50)
          FROM res WHERE client_id IS NOT NULL
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET name = excluded.name, role = excluded.role, email = excluded.email, phone = excluded.phone,
               updated_at = now()
         WHERE (t.name, t.role, t.email, t.phone)
               IS DISTINCT FROM (excluded.name, excluded.role, excluded.email, excluded.phone))
    SELECT count(*) FILTER (WHERE client_id IS NOT NULL), count(*) FILTER (WHERE client_id IS NULL)
      INTO n_contacts, s_contacts FROM res;

    -- Agreements.  MRR is the bill amount per month (billing cycle); a
    -- cancelled agreement ends on its cancellation date.
    PERFORM etop.cw_move_records(v_run, 'agreements', '{finance/agreements}');
    WITH src AS (
        SELECT r.endpoint, r.rec, r.rec -> 'company' ->> 'id' AS company
          FROM etop.sync_latest(v_run, '{finance/agreements}', d_agreements) r),
    res AS (
        SELECT s.rec, CASE WHEN c.id IS NULL AND v_skip THEN NULL
                           ELSE coalesce(c.id, etop.sync_fail(v_vendor, s.endpoint, s.rec ->> 'id',
                                    format('refers to company %s, which is neither in this sync run nor in etop.clients', s.company),
                                    'foreign_key_violation', v_fk_hint)) END AS client_id,
               etop.sync_date(s.rec ->> 'startDate') AS start_date,
               CASE WHEN s.rec -> 'cancelledFlag' = 'true'
                    THEN coalesce(least(etop.sync_date(s.rec ->> 'dateCancelled'), etop.sync_date(s.rec ->> 'endDate')),
                                  etop.sync_date(s.rec ->> 'endDate'))
                    WHEN s.rec -> 'noEndingDateFlag' = 'true' THEN NULL
                    ELSE etop.sync_date(s.rec ->> 'endDate') END AS end_date,
               CASE WHEN s.rec -> 'oneTimeFlag' = 'true' THEN NULL
                    ELSE round((s.rec ->> 'billAmount')::numeric *
                               CASE lower(regexp_replace(coalesce(s.rec -> 'billingCycle' ->> 'name', 'Monthly'),
                                                         '[^A-Za-z]', '', 'g'))
                                    WHEN 'monthly' THEN 1.0 WHEN 'quarterly' THEN 1.0 / 3
                                    WHEN 'semiannual' THEN 1.0 / 6 WHEN 'semiannually' THEN 1.0 / 6
                                    WHEN 'biannual' THEN 1.0 / 6 WHEN 'biannually' THEN 1.0 / 6
                                    WHEN 'annual' THEN 1.0 / 12 WHEN 'annually' THEN 1.0 / 12
                                    WHEN 'yearly' THEN 1.0 / 12 WHEN 'weekly' THEN 52.0 / 12
                                    WHEN 'biweekly' THEN 26.0 / 12 END, 2) END AS mrr
          FROM src s LEFT JOIN etop.clients c ON c.source = 'connectwise' AND c.external_id = s.company),
    up AS (
        INSERT INTO etop.agreements AS t (client_id, source, external_id, name, type, mrr, term_months,
                                         start_date, end_date)
        SELECT client_id, 'connectwise', rec ->> 'id', left(nullif(btrim(rec ->> 'name'), ''), 255),
               left(nullif(btrim(rec -> 'type' ->> 'name'), ''), 100), mrr,
               CASE WHEN end_date >= start_date
                    THEN (SELECT (extract(year FROM a) * 12 + extract(month FROM a))::int
                            FROM age(end_date + 1, start_date) a) END,
               start_date, end_date
          FROM res WHERE client_id IS NOT NULL
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET name = excluded.name, type = excluded.type, mrr = excluded.mrr,
               term_months = excluded.term_months, start_date = excluded.start_date,
               end_date = excluded.end_date, updated_at = now()
         WHERE (t.name, t.type, t.mrr, t.term_months, t.start_date, t.end_date)
               IS DISTINCT FROM (excluded.name, excluded.type, excluded.mrr, excluded.term_months,
                                 excluded.start_date, excluded.end_date))
    SELECT count(*) FILTER (WHERE client_id IS NOT NULL), s_other + count(*) FILTER (WHERE client_id IS NULL)
      INTO n_agreements, s_other FROM res;

    -- Client MRR and agreement dates from the agreements in effect on the
    -- run's date (all of a client's agreements, not only this run's): MRR is
    -- their sum (0 when none is in effect), the dates span them (an open-ended
    -- one leaves agreement_end NULL); with none in effect the dates span all
    -- agreements.  Clients without any agreement keep what they had.
    WITH touched AS (
        SELECT c.id FROM etop.clients c
         WHERE c.source = 'connectwise'
           AND c.external_id IN (SELECT r.rec ->> 'id' FROM etop.sync_records(v_run, '{company/companies}') r
                                 UNION
                                 SELECT r.rec -> 'company' ->> 'id' FROM etop.sync_records(v_run, '{finance/agreements}') r)),
    agg AS (
        SELECT a.client_id,
               bool_or(e) AS any_in_effect,
               coalesce(sum(a.mrr) FILTER (WHERE e), 0) AS mrr,
               min(a.start_date) FILTER (WHERE e) AS eff_start,
               CASE WHEN bool_or(e AND a.end_date IS NULL) THEN NULL
                    ELSE max(a.end_date) FILTER (WHERE e) END AS eff_end,
               min(a.start_date) AS all_start,
               CASE WHEN bool_or(a.end_date IS NULL) THEN NULL ELSE max(a.end_date) END AS all_end
          FROM etop.agreements a
         CROSS JOIN LATERAL (SELECT coalesce(a.start_date <= v_as_of, true)
                                    AND coalesce(a.end_date >= v_as_of, true) AS e) x
         WHERE a.client_id IN (SELECT id FROM touched)
         GROUP BY a.client_id)
    UPDATE etop.clients c
       SET mrr = agg.mrr,
           agreement_start = CASE WHEN agg.any_in_effect THEN agg.eff_start ELSE agg.all_start END,
           agreement_end = CASE WHEN agg.any_in_effect THEN agg.eff_end ELSE agg.all_end END,
           updated_at = now()
      FROM agg
     WHERE c.id = agg.client_id
       AND (c.mrr, c.agreement_start, c.agreement_end) IS DISTINCT FROM
           (agg.mrr, CASE WHEN agg.any_in_effect THEN agg.eff_start ELSE agg.all_start END,
                     CASE WHEN agg.any_in_effect THEN agg.eff_end ELSE agg.all_end END);

    -- Configurations -> devices.  A device Immy.Bot created earlier with the
    -- same serial number becomes this configuration's row (never a second
    -- device); its Immy.Bot reference then says matched on serial number.
    PERFORM etop.cw_move_records(v_run, 'devices', '{company/configurations}');
    WITH cfg AS (
        SELECT r.rec ->> 'id' AS ext, c.id AS client_id,
               etop.serial_key(r.rec ->> 'serialNumber') AS sk
          FROM etop.sync_latest(v_run, '{company/configurations}', d_devices) r
          JOIN etop.clients c ON c.source = 'connectwise' AND c.external_id = r.rec -> 'company' ->> 'id'),
    cand AS (
        SELECT DISTINCT ON (d.id) d.id, x.ext
          FROM (SELECT DISTINCT ON (cfg.ext) cfg.ext, d.id AS device_id
                  FROM cfg JOIN etop.devices d
                    ON d.client_id = cfg.client_id AND d.source = 'immy' AND etop.serial_key(d.serial_number) = cfg.sk
                 WHERE cfg.sk IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM etop.devices y WHERE y.client_id = cfg.client_id
                                      AND y.source = 'connectwise' AND y.external_id = cfg.ext)
                 ORDER BY cfg.ext, d.id) x
          JOIN etop.devices d ON d.id = x.device_id
         ORDER BY d.id, x.ext),
    adopted AS (
        UPDATE etop.devices d SET source = 'connectwise', external_id = cand.ext, updated_at = now()
          FROM cand WHERE d.id = cand.id
        RETURNING d.id)
    UPDATE etop.external_refs r SET matched_on = 'serial_number', updated_at = now()
      FROM adopted WHERE r.entity = 'device' AND r.source = 'immy' AND r.entity_id = adopted.id;

    WITH src AS (
        SELECT r.endpoint, r.rec, r.rec -> 'company' ->> 'id' AS company
          FROM etop.sync_latest(v_run, '{company/configurations}', d_devices) r),
    res AS (
        SELECT s.rec, CASE WHEN c.id IS NULL AND v_skip THEN NULL
                           ELSE coalesce(c.id, etop.sync_fail(v_vendor, s.endpoint, s.rec ->> 'id',
                                    format('refers to company %s, which is neither in this sync run nor in etop.clients', s.company),
                                    'foreign_key_violation', v_fk_hint)) END AS client_id
          FROM src s LEFT JOIN etop.clients c ON c.source = 'connectwise' AND c.external_id = s.company),
    up AS (
        INSERT INTO etop.devices AS t (client_id, site_id, source, external_id, name, type, os,
                                      serial_number, manufacturer, model, purchase_date, warranty_expires)
        SELECT res.client_id, st.id, 'connectwise', rec ->> 'id', left(btrim(rec ->> 'name'), 255),
               etop.cw_device_type(rec -> 'type' ->> 'name', rec ->> 'osType', v_opts),
               left(nullif(btrim(rec ->> 'osType'), ''), 100),
               left(nullif(btrim(rec ->> 'serialNumber'), ''), 100),
               left(nullif(btrim(rec -> 'manufacturer' ->> 'name'), ''), 100),
               left(nullif(btrim(rec ->> 'modelNumber'), ''), 100),
               etop.sync_date(rec ->> 'purchaseDate'), etop.sync_date(rec ->> 'warrantyExpirationDate')
          FROM res
          LEFT JOIN etop.sites st ON st.client_id = res.client_id AND st.source = 'connectwise'
                                 AND st.external_id = rec -> 'site' ->> 'id'
         WHERE res.client_id IS NOT NULL
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET site_id = excluded.site_id, name = excluded.name, type = excluded.type, os = excluded.os,
               serial_number = excluded.serial_number, manufacturer = excluded.manufacturer,
               model = excluded.model, purchase_date = excluded.purchase_date,
               warranty_expires = excluded.warranty_expires, updated_at = now()
         WHERE (t.site_id, t.name, t.type, t.os, t.serial_number, t.manufacturer, t.model,
                t.purchase_date, t.warranty_expires)
               IS DISTINCT FROM (excluded.site_id, excluded.name, excluded.type, excluded.os,
                                 excluded.serial_number, excluded.manufacturer, excluded.model,
                                 excluded.purchase_date, excluded.warranty_expires))
    SELECT count(*) FILTER (WHERE client_id IS NOT NULL), s_other + count(*) FILTER (WHERE client_id IS NULL)
      INTO n_devices, s_other FROM res;

    -- Tickets.  res holds what the statement needs of each record (not the
    -- record itself: it is read four times).
    PERFORM etop.cw_move_records(v_run, 'tickets', '{service/tickets}');
    WITH res AS (
        SELECT r.endpoint, r.rec ->> 'id' AS ext,
               CASE WHEN c.id IS NULL AND v_skip THEN NULL
                    ELSE coalesce(c.id, etop.sync_fail(v_vendor, r.endpoint, r.rec ->> 'id',
                             format('refers to company %s, which is neither in this sync run nor in etop.clients',
                                    r.rec -> 'company' ->> 'id'),
                             'foreign_key_violation', v_fk_hint)) END AS client_id,
               r.rec ->> 'summary' AS summary,
               left(coalesce(nullif(btrim(r.rec -> 'subType' ->> 'name'), ''), nullif(btrim(r.rec -> 'type' ->> 'name'), ''),
                             nullif(btrim(r.rec -> 'board' ->> 'name'), '')), 100) AS category,
               r.rec -> 'priority' ->> 'name' AS priority_name, (r.rec -> 'priority' ->> 'sort')::int AS priority_sort,
               left(nullif(btrim(r.rec -> 'status' ->> 'name'), ''), 50) AS status,
               (r.rec ->> 'actualHours')::numeric AS hours,
               r.rec -> 'isInSla' AS in_sla,
               etop.sync_ts(r.rec -> '_info' ->> 'dateEntered') AS created,
               coalesce(r.rec -> 'closedFlag' = 'true', jsonb_typeof(r.rec -> 'closedDate') = 'string') AS closed,
               coalesce(etop.sync_ts(r.rec ->> 'closedDate'), etop.sync_ts(r.rec ->> 'dateResolved')) AS closed_at,
               coalesce(v_site_tz ->> (r.rec -> 'site' ->> 'id'), v_company_tz ->> (r.rec -> 'company' ->> 'id'),
                        v_default_tz) AS tz,
               CASE WHEN jsonb_typeof(r.rec -> 'configurations') = 'array' THEN r.rec -> 'configurations' END AS cfgs
          FROM etop.sync_latest(v_run, '{service/tickets}', d_tickets) r
          LEFT JOIN etop.clients c ON c.source = 'connectwise' AND c.external_id = r.rec -> 'company' ->> 'id'),
    -- the ticket's device: a configuration the record lists, else a device of
    -- the client named in the summary (words joined on the device name: a
    -- hash join however many tickets and devices there are)
    cfgref AS (
        SELECT res.ext, res.client_id, x.cf ->> 'id' AS cfg_id, x.o
          FROM res CROSS JOIN LATERAL jsonb_array_elements(res.cfgs) WITH ORDINALITY x(cf, o)
         WHERE res.client_id IS NOT NULL AND res.cfgs IS NOT NULL AND jsonb_typeof(x.cf) = 'object'),
    tok AS MATERIALIZED (
        SELECT res.ext, res.client_id, upper(w.tok) AS word
          FROM res CROSS JOIN LATERAL regexp_split_to_table(res.summary, '[^A-Za-z0-9_-]+') w(tok)
         WHERE res.client_id IS NOT NULL AND length(w.tok) >= 3
           AND upper(w.tok) IN (SELECT upper(d.name) FROM etop.devices d)),
    prio AS (
        SELECT p.priority_name, p.priority_sort, etop.cw_priority(p.priority_name, p.priority_sort, v_opts) AS priority
          FROM (SELECT DISTINCT priority_name, priority_sort FROM res) p),
    dev AS (
        SELECT DISTINCT ON (x.ext) x.ext, x.id
          FROM (SELECT c.ext, d.id, c.o AS rank, 0 AS len
                  FROM cfgref c JOIN etop.devices d
                    ON d.client_id = c.client_id AND d.source = 'connectwise' AND d.external_id = c.cfg_id
                UNION ALL
                SELECT t.ext, d.id, 1000000, length(d.name)
                  FROM tok t JOIN etop.devices d ON d.client_id = t.client_id AND upper(d.name) = t.word) x
         ORDER BY x.ext, x.rank, x.len DESC, x.id),
    up AS (
        INSERT INTO etop.tickets AS t (client_id, device_id, source, external_id, summary, category,
                                      priority, status, hours_spent, sla_met, after_hours,
                                      created_date, closed_date)
        SELECT res.client_id, dev.id, 'connectwise', res.ext, res.summary, res.category, prio.priority, res.status,
               CASE WHEN res.hours NOT BETWEEN 0 AND 99999
                    THEN etop.sync_fail(v_vendor, res.endpoint, res.ext,
                                        format('field "actualHours" is %s, expected 0 to 99999 hours', res.hours))::numeric
                    ELSE round(res.hours, 2) END,
               -- SLA: a closed ticket's isInSla; an open ticket out of SLA
               -- already is false; one still within it is not decided (NULL)
               CASE WHEN jsonb_typeof(res.in_sla) <> 'boolean' THEN NULL
                    WHEN res.closed THEN res.in_sla = 'true'
                    WHEN res.in_sla = 'false' THEN false END,
               extract(isodow FROM res.created AT TIME ZONE res.tz)::int <> ALL (v_bh_days)
                 OR (res.created AT TIME ZONE res.tz)::time < v_bh_start
                 OR (res.created AT TIME ZONE res.tz)::time >= v_bh_end,
               res.created,
               CASE WHEN res.closed THEN res.closed_at END
          FROM res LEFT JOIN dev ON dev.ext = res.ext
          LEFT JOIN prio ON prio.priority_name IS NOT DISTINCT FROM res.priority_name
                        AND prio.priority_sort IS NOT DISTINCT FROM res.priority_sort
         WHERE res.client_id IS NOT NULL
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET device_id = excluded.device_id, summary = excluded.summary, category = excluded.category,
               priority = excluded.priority, status = excluded.status, hours_spent = excluded.hours_spent,
               sla_met = excluded.sla_met, after_hours = excluded.after_hours,
               created_date = excluded.created_date, closed_date = excluded.closed_date,
               -- closed before, open now: the ticket was reopened
               reopen_count = t.reopen_count
                              + CASE WHEN t.closed_date IS NOT NULL AND excluded.closed_date IS NULL THEN 1 ELSE 0 END,
               updated_at = now()
         WHERE (t.device_id, t.summary, t.category, t.priority, t.status, t.hours_spent, t.sla_met,
                t.after_hours, t.created_date, t.closed_date)
               IS DISTINCT FROM (excluded.device_id, excluded.summary, excluded.category, excluded.priority,
                                 excluded.status, excluded.hours_spent, excluded.sla_met, excluded.after_hours,
                                 excluded.created_date, excluded.closed_date))
    SELECT count(*) FILTER (WHERE client_id IS NOT NULL), s_other + count(*) FILTER (WHERE client_id IS NULL)
      INTO n_tickets, s_other FROM res;

    result := jsonb_build_object('clients', n_clients, 'sites', n_sites, 'contacts', n_contacts,
                                 'agreements', n_agreements, 'devices', n_devices, 'tickets', n_tickets);
    IF s_contacts + s_other > 0 THEN
        result := result || jsonb_build_object('skipped', jsonb_build_object(
            'contacts_without_company', s_contacts, 'records_of_unknown_companies', s_other));
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION etop.normalize_connectwise(bigint) IS
    'Normalize a ConnectWise sync run''s pages into clients, sites, contacts, agreements, devices and tickets (set-based, idempotent); returns the record counts';
-- Immy.Bot -> devices (correlated with the ConnectWise devices by serial
-- number), external_refs, controls (control_type 'immy_baseline').
-- Endpoints (etop.sync_pages.endpoint, the API path without /api/v1/):
--   tenants                      the tenants (Immy.Bot's customers)
--   computers/paged              computers (the "results" of each page)
--   target-assignments           deployments, used as compliance baselines
--   maintenance-actions/...      drift/compliance results (maintenance-actions/dx,
--                                maintenance-actions/latest-for-tenant/{id}, ...)
-- The short names computers, baselines and actions are accepted too.  The
-- mapping, field by field, is in docs/adapters.md.

-- Which etop client each Immy.Bot tenant of a run is:
--   {"clients": {"<tenant id>": client id, ...}, "unmapped": {"<tenant id>": "<name>", ...}}  A tenant maps through
-- connections.options.tenant_map {"<tenant id>": "<ConnectWise company id>"}
-- (tenant_map_source names another source; a JSON null leaves the tenant
-- out), else by name: the client with the same name (case and surrounding
-- spaces ignored), a ConnectWise one first.  The MSP's own tenant (isMsp) is
-- left out unless mapped.  Raises on a mapping to a client etop does not
-- know and on an ambiguous name.
CREATE FUNCTION etop.immy_tenant_clients(p_run bigint, p_opts jsonb,
                                         p_computers text[], p_actions text[])
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_source text := coalesce(p_opts ->> 'tenant_map_source', 'connectwise');
    v_map jsonb := coalesce(p_opts -> 'tenant_map', '{}');
    bad record;
    v_problem text;
    result jsonb;
BEGIN
    IF jsonb_typeof(v_map) <> 'object' THEN
        RAISE EXCEPTION 'connection option tenant_map must be an object {"<Immy.Bot tenant id>": "<ConnectWise company id>"}, not %',
                        v_map USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT k, v INTO bad FROM jsonb_each(v_map) e(k, v)
     WHERE jsonb_typeof(v) NOT IN ('string', 'number', 'null') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'connection option tenant_map: tenant % maps to %, expected a client''s external id (string or number) or null',
                        bad.k, bad.v USING ERRCODE = 'invalid_parameter_value';
    END IF;

    WITH t AS (
        SELECT DISTINCT ON (tid) tid, name, msp
          FROM (SELECT r.rec ->> 'id' AS tid, r.rec ->> 'name' AS name,
                       coalesce(r.rec -> 'isMsp' = 'true' OR r.rec -> 'msp' = 'true', false) AS msp,
                       1 AS pri, -r.page AS pg, -r.item AS it
                  FROM etop.sync_records(p_run, '{tenants}') r
                UNION ALL
                SELECT r.rec ->> 'tenantId', r.rec ->> 'tenantName', false, 2, -r.page, -r.item
                  FROM etop.sync_records(p_run, p_computers) r
                UNION ALL
                SELECT r.rec ->> 'tenantId', r.rec ->> 'tenantName', false, 3, -r.page, -r.item
                  FROM etop.sync_records(p_run, p_actions) r) x
         WHERE tid IS NOT NULL
         ORDER BY tid, pri, pg, it),
    named AS (
        SELECT t.tid,
               array_agg(c.id ORDER BY c.id) FILTER (WHERE c.source = 'connectwise') AS cw,
               array_agg(c.id ORDER BY c.id) AS any_source,
               string_agg(c.source || ' ' || c.external_id, ', ' ORDER BY c.source, c.external_id)
                   FILTER (WHERE c.source = 'connectwise') AS cw_names,
               string_agg(c.source || ' ' || c.external_id, ', ' ORDER BY c.source, c.external_id) AS all_names
          FROM t JOIN etop.clients c ON lower(btrim(c.name)) = lower(btrim(t.name))
         GROUP BY t.tid),
    res AS (
        SELECT t.tid, t.name,
               CASE WHEN v_map ? t.tid THEN m.id
                    WHEN t.msp THEN NULL
                    WHEN cardinality(n.cw) = 1 THEN n.cw[1]
                    WHEN n.cw IS NULL AND cardinality(n.any_source) = 1 THEN n.any_source[1] END AS client_id,
               CASE WHEN v_map ? t.tid AND jsonb_typeof(v_map -> t.tid) <> 'null' AND m.id IS NULL
                    THEN format('connection option tenant_map maps Immy.Bot tenant %s (%s) to %s client %s, which is not in etop.clients',
                                t.tid, coalesce(t.name, '?'), v_source, v_map -> t.tid)
                    WHEN v_map ? t.tid OR t.msp THEN NULL
                    WHEN cardinality(n.cw) > 1 OR n.cw IS NULL AND cardinality(n.any_source) > 1
                    THEN format('Immy.Bot tenant %s (%s) matches several clients by name (%s)', t.tid, t.name,
                                coalesce(n.cw_names, n.all_names)) END AS problem
          FROM t
          LEFT JOIN named n ON n.tid = t.tid
          LEFT JOIN etop.clients m ON m.source = v_source AND m.external_id = v_map ->> t.tid)
    SELECT min(problem),
           jsonb_build_object(
               'clients', coalesce(jsonb_object_agg(tid, client_id) FILTER (WHERE client_id IS NOT NULL), '{}'),
               'unmapped', coalesce(jsonb_object_agg(tid, coalesce(name, '')) FILTER (WHERE client_id IS NULL), '{}'))
      INTO v_problem, result FROM res;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION '%', v_problem
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Map Immy.Bot tenants to clients in the connection option tenant_map, e.g. '
                         '{"tenant_map": {"10": "250"}} (tenant id -> ConnectWise company id).';
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION etop.immy_tenant_clients(bigint, jsonb, text[], text[]) IS
    'Immy.Bot tenants of a sync run: {"clients": {tenant id: client id}, "unmapped": {tenant id: name}} (options.tenant_map, else the client of the same name)';

CREATE FUNCTION etop.normalize_immy(run_id bigint) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_run      bigint := normalize_immy.run_id;
    v_vendor   constant text := 'Immy.Bot';
    v_opts     jsonb;
    v_tenants  jsonb;
    v_tmap     jsonb;
    v_edr      text;
    v_patch    text;
    ep_comp    constant text[] := ARRAY['computers/paged', 'computers'];
    ep_base    constant text[] := ARRAY['target-assignments', 'baselines'];
    ep_act     constant text[] := ARRAY['maintenance-actions', 'maintenance-actions/%', 'actions'];
    n_devices bigint := 0; n_correlated bigint := 0; n_controls bigint := 0;
    s_unmapped bigint := 0; s_deleted bigint := 0; s_actions bigint := 0;
    d_comp boolean; d_base boolean;     -- a record delivered twice in the run
    v_unmapped jsonb;
    result jsonb;
BEGIN
    -- ConnectWise and Immy.Bot both decide which device a serial number is:
    -- one at a time (until the sync's transaction ends), so two syncs
    -- finishing together cannot both create the device.
    PERFORM pg_advisory_xact_lock(1702129520, 1);    -- 'etop', devices
    v_opts := etop.sync_run_options(v_run);
    v_edr := coalesce(v_opts ->> 'edr_pattern',
                      '(defender|edr|crowdstrike|falcon|sentinel ?one|huntress|sophos|bitdefender|'
                      'malwarebytes|webroot|eset|carbon black|cylance|cortex xdr)');
    v_patch := coalesce(v_opts ->> 'patch_pattern', '(update|patch)');
    BEGIN
        PERFORM '' ~* v_edr, '' ~* v_patch;
    EXCEPTION WHEN invalid_regular_expression THEN
        RAISE EXCEPTION 'connection option edr_pattern or patch_pattern is not a valid regular expression: %', SQLERRM
            USING ERRCODE = 'invalid_parameter_value';
    END;

    -- Every record is checked before anything is written.
    PERFORM etop.sync_validate(v_run, v_vendor, '{tenants}', 'id', $j${
        "id": "int!", "name": "string", "isMsp": "boolean", "msp": "boolean"}$j$);
    SELECT duplicates > 0 INTO d_comp
      FROM etop.sync_validate(v_run, v_vendor, ep_comp, 'id', $j${
        "id": "int!", "tenantId": "int!", "tenantName": "string", "computerName": "string", "name": "string",
        "serialNumber": "string", "manufacturer": "string", "model": "string", "operatingSystem": "string",
        "chassisTypes": "array", "domainRole": "int", "lastProviderAgentEventDateUtc": "timestamp",
        "updatedDate": "timestamp", "deletedAt": "timestamp"}$j$);
    SELECT duplicates > 0 INTO d_base
      FROM etop.sync_validate(v_run, v_vendor, ep_base, 'id', $j${
        "id": "int!", "maintenanceDisplayName": "string", "maintenanceIdentifier": "string",
        "maintenanceType": "int", "targetText": "string", "notes": "string", "updatedDateUTC": "timestamp"}$j$);
    PERFORM etop.sync_validate(v_run, v_vendor, ep_act, 'id', $j${
        "id": "int!", "computerId": "int!", "tenantId": "int", "tenantName": "string", "assignmentId": "int",
        "maintenanceDisplayName": "string", "result": "int", "resultName": "string",
        "maintenanceTaskGetResult": "string", "startTime": "timestamp", "endTime": "timestamp",
        "createdDateUTC": "timestamp", "updatedDateUTC": "timestamp", "detectedVersionString": "string"}$j$);

    v_tenants := etop.immy_tenant_clients(v_run, v_opts, ep_comp, ep_act);
    v_tmap := v_tenants -> 'clients';

    -- Computers -> devices.  A computer is the device its Immy.Bot reference
    -- already points to, else the client's device with the same serial number
    -- (case and spaces ignored; a ConnectWise device first), else a new
    -- device of source 'immy'.  Either way the device is managed (Immy.Bot's
    -- agent is on it) and the reference (entity 'device', source 'immy',
    -- external_id = computer id) is recorded.
    WITH comp AS (
        SELECT r.rec, r.rec ->> 'id' AS ext,
               (v_tmap ->> (r.rec ->> 'tenantId'))::int AS client_id,
               jsonb_typeof(r.rec -> 'deletedAt') = 'string' AND r.rec ->> 'deletedAt' <> '' AS deleted,
               etop.serial_key(r.rec ->> 'serialNumber') AS sk,
               left(coalesce(nullif(btrim(r.rec ->> 'computerName'), ''), nullif(btrim(r.rec ->> 'name'), ''),
                             'Immy.Bot computer ' || (r.rec ->> 'id')), 255) AS name,
               CASE WHEN (r.rec ->> 'domainRole')::int >= 2 OR r.rec ->> 'operatingSystem' ~* 'server'
                         OR r.rec -> 'chassisTypes' @> '[23]' OR r.rec -> 'chassisTypes' @> '[17]' THEN 'server'
                    WHEN r.rec ? 'domainRole' OR r.rec ->> 'operatingSystem' ~* '(windows|mac ?os|os x)'
                         OR jsonb_array_length(coalesce(CASE WHEN jsonb_typeof(r.rec -> 'chassisTypes') = 'array'
                                                             THEN r.rec -> 'chassisTypes' END, '[]')) > 0
                    THEN 'endpoint' END AS type,
               left(nullif(btrim(regexp_replace(r.rec ->> 'operatingSystem', '^Microsoft\s+', '')), ''), 100) AS os,
               left(nullif(btrim(r.rec ->> 'serialNumber'), ''), 100) AS serial,
               left(nullif(btrim(r.rec ->> 'manufacturer'), ''), 100) AS manufacturer,
               left(nullif(btrim(r.rec ->> 'model'), ''), 100) AS model,
               etop.sync_ts(r.rec ->> 'lastProviderAgentEventDateUtc') AS seen
          FROM etop.sync_latest(v_run, ep_comp, d_comp) r),
    live AS (SELECT * FROM comp WHERE client_id IS NOT NULL AND NOT deleted),
    byref AS (
        SELECT x.external_id, d.id, d.client_id, d.source
          FROM etop.external_refs x JOIN etop.devices d ON d.id = x.entity_id
         WHERE x.entity = 'device' AND x.source = 'immy' AND x.external_id IN (SELECT ext FROM live)),
    own AS (
        SELECT d.external_id, d.id, d.client_id, d.source
          FROM etop.devices d
         WHERE d.source = 'immy' AND d.client_id IN (SELECT client_id FROM live)
           AND d.external_id IN (SELECT ext FROM live)),
    ds AS (
        SELECT DISTINCT ON (client_id, sk) client_id, sk, id, source
          FROM (SELECT d.client_id, etop.serial_key(d.serial_number) AS sk, d.id, d.source
                  FROM etop.devices d
                 WHERE d.client_id IN (SELECT client_id FROM live) AND d.serial_number IS NOT NULL) y
         WHERE sk IS NOT NULL
         ORDER BY client_id, sk, source = 'connectwise' DESC, id),
    resolved AS (
        SELECT live.*,
               coalesce(byref.id, own.id, ds.id) AS device_id,
               coalesce(byref.client_id, own.client_id, ds.client_id, live.client_id) AS dev_client,
               CASE WHEN byref.id IS NOT NULL THEN NULL           -- keep what the reference says
                    WHEN own.id IS NOT NULL THEN 'created'
                    WHEN ds.id IS NOT NULL THEN 'serial_number'
                    ELSE 'created' END AS matched_on
          FROM live
          LEFT JOIN byref ON byref.external_id = live.ext
          LEFT JOIN own ON own.external_id = live.ext AND own.client_id = live.client_id
          LEFT JOIN ds ON ds.client_id = live.client_id AND ds.sk = live.sk),
    upd AS (
        -- devices of another vendor keep their own data and gain what Immy.Bot
        -- knows; devices Immy.Bot created follow Immy.Bot
        UPDATE etop.devices d
           SET managed = true,
               last_seen = greatest(d.last_seen, u.seen),
               name = CASE WHEN d.source = 'immy' THEN u.name ELSE d.name END,
               type = CASE WHEN d.source = 'immy' THEN coalesce(u.type, d.type) ELSE coalesce(d.type, u.type) END,
               os = CASE WHEN d.source = 'immy' THEN coalesce(u.os, d.os) ELSE coalesce(d.os, u.os) END,
               serial_number = CASE WHEN d.source = 'immy' THEN coalesce(u.serial, d.serial_number)
                                    ELSE coalesce(d.serial_number, u.serial) END,
               manufacturer = CASE WHEN d.source = 'immy' THEN coalesce(u.manufacturer, d.manufacturer)
                                   ELSE coalesce(d.manufacturer, u.manufacturer) END,
               model = CASE WHEN d.source = 'immy' THEN coalesce(u.model, d.model) ELSE coalesce(d.model, u.model) END,
               updated_at = now()
          FROM (SELECT DISTINCT ON (device_id) * FROM resolved WHERE device_id IS NOT NULL
                 ORDER BY device_id, seen DESC NULLS LAST, ext) u
         WHERE d.id = u.device_id
           AND (NOT d.managed OR d.last_seen IS DISTINCT FROM greatest(d.last_seen, u.seen)
                OR d.source = 'immy' AND (d.name, d.type, d.os, d.serial_number, d.manufacturer, d.model)
                                         IS DISTINCT FROM (u.name, coalesce(u.type, d.type), coalesce(u.os, d.os),
                                                           coalesce(u.serial, d.serial_number),
                                                           coalesce(u.manufacturer, d.manufacturer),
                                                           coalesce(u.model, d.model))
                OR d.source <> 'immy' AND (d.type IS NULL AND u.type IS NOT NULL OR d.os IS NULL AND u.os IS NOT NULL
                                           OR d.serial_number IS NULL AND u.serial IS NOT NULL
                                           OR d.manufacturer IS NULL AND u.manufacturer IS NOT NULL
                                           OR d.model IS NULL AND u.model IS NOT NULL))
        RETURNING d.id),
    ins AS (
        INSERT INTO etop.devices AS t (client_id, source, external_id, name, type, os, managed, last_seen,
                                      serial_number, manufacturer, model)
        SELECT client_id, 'immy', ext, name, type, os, true, seen, serial, manufacturer, model
          FROM resolved WHERE device_id IS NULL
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET name = excluded.name, type = coalesce(excluded.type, t.type), os = coalesce(excluded.os, t.os),
               managed = true, last_seen = greatest(t.last_seen, excluded.last_seen),
               serial_number = coalesce(excluded.serial_number, t.serial_number),
               manufacturer = coalesce(excluded.manufacturer, t.manufacturer),
               model = coalesce(excluded.model, t.model), updated_at = now()
        RETURNING t.id, t.external_id),
    refs AS (
        INSERT INTO etop.external_refs AS x (client_id, entity, entity_id, source, external_id, matched_on)
        SELECT r.dev_client, 'device', coalesce(r.device_id, ins.id), 'immy', r.ext, coalesce(r.matched_on, 'serial_number')
          FROM resolved r LEFT JOIN ins ON r.device_id IS NULL AND ins.external_id = r.ext
        ON CONFLICT (entity, source, external_id) DO UPDATE
           SET client_id = excluded.client_id, entity_id = excluded.entity_id, updated_at = now(),
               matched_on = CASE WHEN x.entity_id = excluded.entity_id THEN x.matched_on ELSE excluded.matched_on END
         WHERE (x.client_id, x.entity_id) IS DISTINCT FROM (excluded.client_id, excluded.entity_id))
    SELECT count(*) FILTER (WHERE client_id IS NOT NULL AND NOT deleted),
           count(*) FILTER (WHERE client_id IS NULL AND NOT deleted),
           count(*) FILTER (WHERE deleted)
      INTO n_devices, s_unmapped, s_deleted FROM comp;

    -- How many of this run's computers are a device another vendor knows.
    SELECT count(*) INTO n_correlated
      FROM (SELECT DISTINCT r.rec ->> 'id' AS ext FROM etop.sync_records(v_run, ep_comp) r) c
      JOIN etop.external_refs x ON x.entity = 'device' AND x.source = 'immy' AND x.external_id = c.ext
      JOIN etop.devices d ON d.id = x.entity_id
     WHERE d.source <> 'immy';

    -- Drift/compliance results -> controls: one control per computer and
    -- baseline (deployment), the latest result wins.  Failed, or a
    -- non-compliant test result, is 'fail'; Success is 'pass'; anything else
    -- (pending, cancelled, not started) is 'unknown'.
    WITH base AS (
        SELECT r.rec ->> 'id' AS id, r.rec
          FROM etop.sync_latest(v_run, ep_base, d_base) r),
    act AS (
        SELECT DISTINCT ON (r.rec ->> 'computerId', r.rec ->> 'assignmentId')
               r.endpoint, r.rec, r.rec ->> 'computerId' AS computer, r.rec ->> 'assignmentId' AS assignment,
               coalesce(etop.sync_ts(r.rec ->> 'endTime'), etop.sync_ts(r.rec ->> 'updatedDateUTC'),
                        etop.sync_ts(r.rec ->> 'createdDateUTC'), etop.sync_ts(r.rec ->> 'startTime')) AS checked
          FROM etop.sync_records(v_run, ep_act) r
         WHERE jsonb_typeof(r.rec -> 'assignmentId') = 'number'
         ORDER BY r.rec ->> 'computerId', r.rec ->> 'assignmentId',
                  coalesce(etop.sync_ts(r.rec ->> 'endTime'), etop.sync_ts(r.rec ->> 'updatedDateUTC'),
                           etop.sync_ts(r.rec ->> 'createdDateUTC'), etop.sync_ts(r.rec ->> 'startTime')) DESC NULLS LAST,
                  (r.rec ->> 'id')::bigint DESC),
    res AS (
        SELECT act.*, d.id AS device_id,
               coalesce(d.client_id, (v_tmap ->> (act.rec ->> 'tenantId'))::int) AS client_id,
               CASE WHEN lower(act.rec ->> 'resultName') IN ('failed', 'failure', 'error')
                      OR act.rec ->> 'resultName' IS NULL AND act.rec ->> 'result' = '2'
                      OR lower(act.rec ->> 'maintenanceTaskGetResult') IN ('noncompliant', 'non-compliant', 'non compliant')
                    THEN 'fail'
                    WHEN lower(act.rec ->> 'resultName') IN ('success', 'succeeded', 'compliant')
                      OR act.rec ->> 'resultName' IS NULL AND act.rec ->> 'result' = '1'
                    THEN 'pass'
                    WHEN act.rec ->> 'resultName' IS NULL AND act.rec ->> 'result' IS NULL
                    THEN etop.sync_fail(v_vendor, act.endpoint, act.rec ->> 'id',
                                        'has neither "resultName" nor "result"', 'null_value_not_allowed')::text
                    ELSE 'unknown' END AS status
          FROM act
          LEFT JOIN etop.external_refs x ON x.entity = 'device' AND x.source = 'immy' AND x.external_id = act.computer
          LEFT JOIN etop.devices d ON d.id = x.entity_id),
    up AS (
        INSERT INTO etop.controls AS t (client_id, device_id, source, external_id, control_type, title, status,
                                       evidence, last_checked)
        SELECT res.client_id, res.device_id, 'immy', res.computer || ':' || res.assignment, 'immy_baseline',
               left(coalesce(nullif(btrim(base.rec ->> 'maintenanceDisplayName'), ''),
                             nullif(btrim(res.rec ->> 'maintenanceDisplayName'), ''),
                             'Immy.Bot deployment ' || res.assignment), 255),
               res.status,
               res.rec || jsonb_build_object('baseline', CASE WHEN base.rec IS NOT NULL THEN jsonb_strip_nulls(
                   jsonb_build_object('id', base.rec -> 'id', 'name', base.rec -> 'maintenanceDisplayName',
                                      'target', base.rec -> 'targetText', 'notes', base.rec -> 'notes')) END),
               res.checked
          FROM res LEFT JOIN base ON base.id = res.assignment
         WHERE res.client_id IS NOT NULL
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET device_id = excluded.device_id, title = excluded.title, status = excluded.status,
               evidence = excluded.evidence, last_checked = excluded.last_checked, updated_at = now()
         WHERE (t.device_id, t.title, t.status, t.evidence, t.last_checked)
               IS DISTINCT FROM (excluded.device_id, excluded.title, excluded.status, excluded.evidence,
                                 excluded.last_checked))
    SELECT count(*) FILTER (WHERE client_id IS NOT NULL), count(*) FILTER (WHERE client_id IS NULL)
      INTO n_controls, s_actions FROM res;
    SELECT s_actions + count(*) INTO s_actions
      FROM etop.sync_records(v_run, ep_act) r WHERE jsonb_typeof(r.rec -> 'assignmentId') IS DISTINCT FROM 'number';

    -- What the results say about the device: an EDR deployment (edr_pattern)
    -- that succeeded means EDR installed and healthy, one that failed means
    -- unhealthy (installed when a version was detected); an update deployment
    -- (patch_pattern) that succeeded is the device's last patch time.
    WITH act AS (
        SELECT DISTINCT ON (r.rec ->> 'computerId', r.rec ->> 'assignmentId', r.rec ->> 'maintenanceDisplayName')
               r.rec, coalesce(etop.sync_ts(r.rec ->> 'endTime'), etop.sync_ts(r.rec ->> 'updatedDateUTC'),
                               etop.sync_ts(r.rec ->> 'createdDateUTC')) AS at,
               lower(r.rec ->> 'resultName') AS result
          FROM etop.sync_records(v_run, ep_act) r
         ORDER BY r.rec ->> 'computerId', r.rec ->> 'assignmentId', r.rec ->> 'maintenanceDisplayName',
                  coalesce(etop.sync_ts(r.rec ->> 'endTime'), etop.sync_ts(r.rec ->> 'updatedDateUTC'),
                           etop.sync_ts(r.rec ->> 'createdDateUTC')) DESC NULLS LAST,
                  (r.rec ->> 'id')::bigint DESC),
    per_device AS (
        SELECT x.entity_id AS device_id,
               bool_or(act.result IN ('success', 'succeeded')) FILTER (WHERE edr) AS edr_ok,
               bool_or(act.result IN ('failed', 'failure', 'error')) FILTER (WHERE edr) AS edr_bad,
               bool_or(jsonb_typeof(act.rec -> 'detectedVersionString') = 'string') FILTER (WHERE edr) AS edr_seen,
               max(act.at) FILTER (WHERE patch AND act.result IN ('success', 'succeeded')) AS patched
          FROM act
          JOIN etop.external_refs x ON x.entity = 'device' AND x.source = 'immy' AND x.external_id = act.rec ->> 'computerId'
         CROSS JOIN LATERAL (SELECT coalesce(act.rec ->> 'maintenanceDisplayName', '') ~* v_edr AS edr,
                                    coalesce(act.rec ->> 'maintenanceDisplayName', '') ~* v_patch AS patch) k
         GROUP BY x.entity_id),
    want AS (
        SELECT d.id,
               CASE WHEN p.edr_ok THEN true WHEN p.edr_bad THEN coalesce(p.edr_seen, false) ELSE d.edr_installed END AS edr_installed,
               CASE WHEN p.edr_ok THEN true WHEN p.edr_bad THEN false ELSE d.edr_healthy END AS edr_healthy,
               greatest(d.last_patched_at, p.patched) AS last_patched_at
          FROM per_device p JOIN etop.devices d ON d.id = p.device_id)
    UPDATE etop.devices d
       SET edr_installed = w.edr_installed, edr_healthy = w.edr_healthy, last_patched_at = w.last_patched_at,
           updated_at = now()
      FROM want w
     WHERE d.id = w.id
       AND (d.edr_installed, d.edr_healthy, d.last_patched_at)
           IS DISTINCT FROM (w.edr_installed, w.edr_healthy, w.last_patched_at);

    result := jsonb_build_object('devices', n_devices, 'controls', n_controls, 'devices_correlated', n_correlated);
    IF s_unmapped + s_deleted + s_actions > 0 THEN
        SELECT coalesce(jsonb_agg(DISTINCT v_tenants -> 'unmapped' ->> (r.rec ->> 'tenantId')), '[]') INTO v_unmapped
          FROM etop.sync_records(v_run, ep_comp) r
         WHERE v_tenants -> 'unmapped' ? (r.rec ->> 'tenantId');
        result := result || jsonb_build_object('skipped', jsonb_build_object(
            'computers_of_unmapped_tenants', s_unmapped, 'unmapped_tenants', v_unmapped,
            'deleted_computers', s_deleted, 'results_without_baseline_or_client', s_actions));
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION etop.normalize_immy(bigint) IS
    'Normalize an Immy.Bot sync run''s pages into devices (correlated by serial number, external_refs) and immy_baseline controls (set-based, idempotent); returns the record counts';
-- Microsoft 365 (Microsoft Graph v1.0) -> users, controls (control_type
-- 'm365_secure_score'), risks.  A connection is one Entra ID tenant, which is
-- one etop client (connections.options client_id, or client_external_id +
-- client_source).  Endpoints (etop.sync_pages.endpoint, the Graph path
-- after /v1.0/; payload = the page's "value" array):
--   users                                                  ($select incl. accountEnabled, signInActivity)
--   reports/authenticationMethods/userRegistrationDetails  MFA
--   identityProtection/riskyUsers                          risk level
--   security/secureScoreControlProfiles                    the controls
--   security/secureScores                                  the scores (the latest one counts)
--   security/alerts_v2                                     Defender alerts -> risks
-- The mapping, field by field, is in docs/adapters.md.

-- The client a Microsoft 365 connection's tenant belongs to.
CREATE FUNCTION etop.m365_client(p_run bigint, p_opts jsonb) RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_conn text;
    v_client integer;
    v_source text := coalesce(p_opts ->> 'client_source', 'connectwise');
BEGIN
    SELECT r.connection INTO v_conn FROM etop.sync_runs r WHERE r.id = p_run;
    IF p_opts ? 'client_id' THEN
        IF jsonb_typeof(p_opts -> 'client_id') NOT IN ('number', 'string')
           OR (p_opts ->> 'client_id') !~ '^\d{1,9}$' THEN
            RAISE EXCEPTION 'Microsoft 365 connection "%": option client_id is %, expected an etop.clients id',
                            v_conn, p_opts -> 'client_id' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT c.id INTO v_client FROM etop.clients c WHERE c.id = (p_opts ->> 'client_id')::int;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'Microsoft 365 connection "%" is mapped to client %, which does not exist',
                            v_conn, p_opts ->> 'client_id'
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'Fix the connection option client_id (SELECT id, name FROM etop.clients).';
        END IF;
    ELSIF p_opts ? 'client_external_id' THEN
        SELECT c.id INTO v_client FROM etop.clients c
         WHERE c.source = v_source AND c.external_id = p_opts ->> 'client_external_id';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'Microsoft 365 connection "%" is mapped to % client %, which is not in etop.clients',
                            v_conn, v_source, p_opts -> 'client_external_id'
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'Sync that vendor first, or fix the connection options client_external_id / client_source.';
        END IF;
    ELSE
        RAISE EXCEPTION 'Microsoft 365 connection "%" is not mapped to a client', v_conn
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A Microsoft 365 tenant belongs to one client: set the connection option client_id '
                         '(etop.clients.id) or client_external_id (with client_source, default "connectwise"), '
                         'e.g. {"client_external_id": "250"}.';
    END IF;
    RETURN v_client;
END
$$;
COMMENT ON FUNCTION etop.m365_client(bigint, jsonb) IS
    'The etop client of a Microsoft 365 sync run (connection option client_id, or client_external_id + client_source)';

CREATE FUNCTION etop.normalize_m365(run_id bigint) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_run      bigint := normalize_m365.run_id;
    v_vendor   constant text := 'Microsoft Graph';
    v_opts     jsonb;
    v_client   integer;
    ep_users   constant text[] := ARRAY['users'];
    ep_reg     constant text[] := ARRAY['reports/authenticationMethods/userRegistrationDetails'];
    ep_risky   constant text[] := ARRAY['identityProtection/riskyUsers'];
    ep_prof    constant text[] := ARRAY['security/secureScoreControlProfiles'];
    ep_scores  constant text[] := ARRAY['security/secureScores'];
    ep_alerts  constant text[] := ARRAY['security/alerts_v2'];
    n_users bigint := 0; n_controls bigint := 0; n_risks bigint := 0; s_deprecated bigint := 0;
    d_users boolean; d_reg boolean; d_risky boolean; d_prof boolean; d_alerts boolean;   -- a record delivered twice
    result jsonb;
BEGIN
    v_opts := etop.sync_run_options(v_run);
    v_client := etop.m365_client(v_run, v_opts);

    -- Every record is checked before anything is written.
    SELECT duplicates > 0 INTO d_users
      FROM etop.sync_validate(v_run, v_vendor, ep_users, 'id', $j${
        "id": "id!", "userPrincipalName": "string!", "displayName": "string", "mail": "string",
        "accountEnabled": "boolean!", "userType": "string", "signInActivity": "object",
        "signInActivity.lastSignInDateTime": "timestamp",
        "signInActivity.lastSuccessfulSignInDateTime": "timestamp"}$j$,
        p_hint => 'The users request needs $select=id,displayName,mail,userPrincipalName,accountEnabled,userType,signInActivity.');
    SELECT duplicates > 0 INTO d_reg
      FROM etop.sync_validate(v_run, v_vendor, ep_reg, 'id', $j${
        "id": "id!", "isMfaRegistered": "boolean", "isMfaCapable": "boolean"}$j$);
    SELECT duplicates > 0 INTO d_risky
      FROM etop.sync_validate(v_run, v_vendor, ep_risky, 'id', $j${
        "id": "id!", "riskLevel": "string!", "riskState": "string", "isDeleted": "boolean"}$j$);
    SELECT duplicates > 0 INTO d_prof
      FROM etop.sync_validate(v_run, v_vendor, ep_prof, 'id', $j${
        "id": "id!", "title": "string", "maxScore": "number!", "controlCategory": "string",
        "deprecated": "boolean", "service": "string", "tier": "string", "rank": "int",
        "actionType": "string", "actionUrl": "string", "implementationCost": "string",
        "userImpact": "string", "threats": "array", "lastModifiedDateTime": "timestamp"}$j$);
    PERFORM etop.sync_validate(v_run, v_vendor, ep_scores, 'id', $j${
        "id": "id!", "createdDateTime": "timestamp!", "controlScores": "array",
        "currentScore": "number", "maxScore": "number"}$j$);
    PERFORM etop.sync_validate(v_run, v_vendor, ep_scores, 'id', $j${
        "controlName": "string!", "score": "number", "scoreInPercentage": "number",
        "implementationStatus": "string", "controlCategory": "string", "lastSynced": "timestamp"}$j$,
        p_nested => 'controlScores', p_nested_id => 'controlName');
    SELECT duplicates > 0 INTO d_alerts
      FROM etop.sync_validate(v_run, v_vendor, ep_alerts, 'id', $j${
        "id": "id!", "title": "string", "description": "string", "severity": "string!",
        "status": "string!", "serviceSource": "string", "classification": "string",
        "category": "string", "createdDateTime": "timestamp!", "resolvedDateTime": "timestamp",
        "recommendedActions": "string", "evidence": "array"}$j$);

    -- Users.  MFA and risk come from their own endpoints below; a new user
    -- starts without MFA and at risk level none.
    WITH src AS (
        SELECT r.rec
          FROM etop.sync_latest(v_run, ep_users, d_users) r),
    up AS (
        INSERT INTO etop.users AS t (client_id, source, external_id, display_name, email, upn,
                                    account_enabled, mfa_enabled, risk_level, last_sign_in)
        SELECT v_client, 'm365', rec ->> 'id', left(nullif(btrim(rec ->> 'displayName'), ''), 255),
               left(nullif(btrim(rec ->> 'mail'), ''), 255), left(btrim(rec ->> 'userPrincipalName'), 255),
               (rec ->> 'accountEnabled')::boolean, false, 'none',
               coalesce(etop.sync_ts(rec -> 'signInActivity' ->> 'lastSignInDateTime'),
                        etop.sync_ts(rec -> 'signInActivity' ->> 'lastSuccessfulSignInDateTime'))
          FROM src
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET display_name = excluded.display_name, email = excluded.email, upn = excluded.upn,
               account_enabled = excluded.account_enabled, last_sign_in = excluded.last_sign_in,
               risk_level = coalesce(t.risk_level, 'none'), updated_at = now()
         WHERE (t.display_name, t.email, t.upn, t.account_enabled, t.last_sign_in, t.risk_level)
               IS DISTINCT FROM (excluded.display_name, excluded.email, excluded.upn,
                                 excluded.account_enabled, excluded.last_sign_in, coalesce(t.risk_level, 'none')))
    SELECT count(*) INTO n_users FROM src;

    -- MFA: isMfaCapable (a strong method registered AND allowed by the
    -- authentication methods policy), else isMfaRegistered.
    UPDATE etop.users u SET mfa_enabled = x.mfa, updated_at = now()
      FROM (SELECT r.rec ->> 'id' AS id,
                   coalesce((r.rec ->> 'isMfaCapable')::boolean, (r.rec ->> 'isMfaRegistered')::boolean,
                            etop.sync_fail(v_vendor, r.endpoint, r.rec ->> 'id',
                                           'has neither "isMfaCapable" nor "isMfaRegistered"',
                                           'null_value_not_allowed')::boolean) AS mfa
              FROM etop.sync_latest(v_run, ep_reg, d_reg) r) x
     WHERE u.client_id = v_client AND u.source = 'm365' AND u.external_id = x.id
       AND u.mfa_enabled IS DISTINCT FROM x.mfa;

    -- Risk: riskLevel (low/medium/high; none, hidden and unknownFutureValue
    -- are none); a remediated or dismissed risk is none.
    UPDATE etop.users u SET risk_level = x.level, updated_at = now()
      FROM (SELECT r.rec ->> 'id' AS id,
                   CASE WHEN lower(r.rec ->> 'riskState') IN ('remediated', 'dismissed') THEN 'none'
                        WHEN lower(r.rec ->> 'riskLevel') IN ('low', 'medium', 'high', 'none') THEN lower(r.rec ->> 'riskLevel')
                        WHEN lower(r.rec ->> 'riskLevel') IN ('hidden', 'unknownfuturevalue') THEN 'none'
                        ELSE etop.sync_fail(v_vendor, r.endpoint, r.rec ->> 'id',
                                            format('field "riskLevel" is %s, expected low, medium, high, none, hidden or unknownFutureValue',
                                                   r.rec -> 'riskLevel'))::text END AS level
              FROM etop.sync_latest(v_run, ep_risky, d_risky) r
             WHERE r.rec -> 'isDeleted' IS DISTINCT FROM 'true') x
     WHERE u.client_id = v_client AND u.source = 'm365' AND u.external_id = x.id
       AND u.risk_level IS DISTINCT FROM x.level;

    -- Secure Score controls: each (non-deprecated) control profile, scored by
    -- the latest secure score's controlScores.  pass: score >= maxScore;
    -- fail: score = 0; unknown: partly implemented, or no score.
    WITH latest AS (
        SELECT r.rec FROM etop.sync_records(v_run, ep_scores) r
         ORDER BY etop.sync_ts(r.rec ->> 'createdDateTime') DESC, r.page DESC, r.item DESC LIMIT 1),
    cs AS (
        SELECT DISTINCT ON (e.el ->> 'controlName') e.el ->> 'controlName' AS name, e.el,
               latest.rec ->> 'createdDateTime' AS score_date, latest.rec ->> 'id' AS score_id
          FROM latest CROSS JOIN LATERAL jsonb_array_elements(
                   CASE WHEN jsonb_typeof(latest.rec -> 'controlScores') = 'array'
                        THEN latest.rec -> 'controlScores' ELSE '[]' END) WITH ORDINALITY e(el, pos)
         ORDER BY e.el ->> 'controlName', e.pos DESC),
    prof AS (
        SELECT r.rec
          FROM etop.sync_latest(v_run, ep_prof, d_prof) r),
    res AS (
        SELECT p.rec, cs.el, cs.score_date, cs.score_id,
               (p.rec ->> 'maxScore')::numeric AS mx, (cs.el ->> 'score')::numeric AS sc,
               p.rec -> 'deprecated' = 'true' AS deprecated
          FROM prof p LEFT JOIN cs ON cs.name = p.rec ->> 'id'),
    up AS (
        INSERT INTO etop.controls AS t (client_id, source, external_id, control_type, title, status, evidence,
                                       last_checked)
        SELECT v_client, 'm365', rec ->> 'id', 'm365_secure_score',
               left(coalesce(nullif(btrim(rec ->> 'title'), ''), rec ->> 'id'), 255),
               CASE WHEN sc IS NULL THEN 'unknown' WHEN sc >= mx THEN 'pass' WHEN sc = 0 THEN 'fail'
                    ELSE 'unknown' END,
               jsonb_build_object('score', sc, 'maxScore', mx) || jsonb_strip_nulls(jsonb_build_object(
                   'scoreInPercentage', el -> 'scoreInPercentage',
                   'implementationStatus', el -> 'implementationStatus',
                   'controlCategory', coalesce(rec -> 'controlCategory', el -> 'controlCategory'),
                   'service', rec -> 'service', 'tier', rec -> 'tier', 'rank', rec -> 'rank',
                   'actionType', rec -> 'actionType', 'actionUrl', rec -> 'actionUrl',
                   'implementationCost', rec -> 'implementationCost', 'userImpact', rec -> 'userImpact',
                   'threats', rec -> 'threats', 'secureScoreId', score_id, 'scoreDate', score_date)),
               coalesce(etop.sync_ts(el ->> 'lastSynced'), etop.sync_ts(score_date),
                        etop.sync_ts(rec ->> 'lastModifiedDateTime'))
          FROM res WHERE NOT coalesce(deprecated, false)
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET control_type = excluded.control_type, title = excluded.title, status = excluded.status,
               evidence = excluded.evidence, last_checked = excluded.last_checked, updated_at = now()
         WHERE (t.control_type, t.title, t.status, t.evidence, t.last_checked)
               IS DISTINCT FROM (excluded.control_type, excluded.title, excluded.status, excluded.evidence,
                                 excluded.last_checked))
    SELECT count(*) FILTER (WHERE NOT coalesce(deprecated, false)), count(*) FILTER (WHERE deprecated)
      INTO n_controls, s_deprecated FROM res;

    -- Defender alerts -> risks.  Type: email for Defender for Office 365,
    -- identity for Entra ID Protection / Defender for Identity, endpoint for
    -- everything else (options.risk_type_map first).  Impact follows the
    -- severity; likelihood the classification (true positive high, false
    -- positive or expected activity low, unclassified medium).
    WITH src AS (
        SELECT r.endpoint, r.rec
          FROM etop.sync_latest(v_run, ep_alerts, d_alerts) r),
    res AS (
        SELECT s.rec,
               CASE WHEN v_opts -> 'risk_type_map' ->> (s.rec ->> 'serviceSource') IN ('identity', 'email', 'endpoint', 'business')
                    THEN v_opts -> 'risk_type_map' ->> (s.rec ->> 'serviceSource')
                    WHEN s.rec ->> 'serviceSource' ~* 'office' THEN 'email'
                    WHEN s.rec ->> 'serviceSource' ~* '(identity|azureAd)' THEN 'identity'
                    ELSE 'endpoint' END AS risk_type,
               CASE WHEN lower(s.rec ->> 'severity') IN ('informational', 'low', 'medium', 'high')
                    THEN lower(s.rec ->> 'severity')
                    WHEN lower(s.rec ->> 'severity') = 'unknownfuturevalue' THEN 'informational'
                    ELSE etop.sync_fail(v_vendor, s.endpoint, s.rec ->> 'id',
                                        format('field "severity" is %s, expected informational, low, medium or high',
                                               s.rec -> 'severity'))::text END AS severity,
               CASE WHEN s.rec ->> 'status' IN ('new', 'inProgress', 'unknownFutureValue') THEN 'open'
                    WHEN s.rec ->> 'status' = 'resolved' THEN 'mitigated'
                    ELSE etop.sync_fail(v_vendor, s.endpoint, s.rec ->> 'id',
                                        format('field "status" is %s, expected new, inProgress or resolved',
                                               s.rec -> 'status'))::text END AS status,
               CASE WHEN s.rec ->> 'classification' = 'truePositive' THEN 'high'
                    WHEN s.rec ->> 'classification' IN ('falsePositive', 'informationalExpectedActivity') THEN 'low'
                    ELSE 'medium' END AS likelihood,
               (SELECT upper(coalesce(nullif(e ->> 'hostName', ''), split_part(e ->> 'deviceDnsName', '.', 1)))
                  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s.rec -> 'evidence') = 'array'
                                                 THEN s.rec -> 'evidence' ELSE '[]' END) WITH ORDINALITY x(e, o)
                 WHERE jsonb_typeof(e) = 'object' AND e ->> '@odata.type' ~* 'deviceEvidence'
                   AND coalesce(nullif(e ->> 'hostName', ''), nullif(e ->> 'deviceDnsName', '')) IS NOT NULL
                 ORDER BY o LIMIT 1) AS host
          FROM src s),
    up AS (
        INSERT INTO etop.risks AS t (client_id, device_id, source, external_id, risk_type, title, description,
                                    severity, likelihood, impact, status, mitigation, detected_at, resolved_at)
        SELECT v_client,
               (SELECT d.id FROM etop.devices d WHERE d.client_id = v_client AND upper(d.name) = res.host
                 ORDER BY d.id LIMIT 1),
               'm365', rec ->> 'id', risk_type, left(nullif(btrim(rec ->> 'title'), ''), 255),
               nullif(btrim(rec ->> 'description'), ''), severity, likelihood,
               CASE severity WHEN 'high' THEN 'high' WHEN 'medium' THEN 'medium' ELSE 'low' END,
               status, nullif(btrim(rec ->> 'recommendedActions'), ''),
               etop.sync_ts(rec ->> 'createdDateTime'),
               CASE WHEN status = 'mitigated' THEN etop.sync_ts(rec ->> 'resolvedDateTime') END
          FROM res
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET device_id = excluded.device_id, risk_type = excluded.risk_type, title = excluded.title,
               description = excluded.description, severity = excluded.severity,
               likelihood = excluded.likelihood, impact = excluded.impact, status = excluded.status,
               mitigation = excluded.mitigation, detected_at = excluded.detected_at,
               resolved_at = excluded.resolved_at, updated_at = now()
         WHERE (t.device_id, t.risk_type, t.title, t.description, t.severity, t.likelihood, t.impact, t.status,
                t.mitigation, t.detected_at, t.resolved_at)
               IS DISTINCT FROM (excluded.device_id, excluded.risk_type, excluded.title, excluded.description,
                                 excluded.severity, excluded.likelihood, excluded.impact, excluded.status,
                                 excluded.mitigation, excluded.detected_at, excluded.resolved_at))
    SELECT count(*) INTO n_risks FROM res;

    result := jsonb_build_object('users', n_users, 'controls', n_controls, 'risks', n_risks);
    IF s_deprecated > 0 THEN
        result := result || jsonb_build_object('skipped', jsonb_build_object('deprecated_controls', s_deprecated));
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION etop.normalize_m365(bigint) IS
    'Normalize a Microsoft 365 (Graph) sync run''s pages into users, m365_secure_score controls and risks for the connection''s client (set-based, idempotent); returns the record counts';
-- Views for people and BI tools.  Every view is security_invoker, so the
-- caller's row-level security applies: an account manager sees its clients.

CREATE VIEW etop.client_overview WITH (security_invoker = true) AS
SELECT c.id AS client_id, c.name, c.segment, c.industry, c.source, c.last_qbr_date,
       (SELECT count(*) FROM etop.sites x WHERE x.client_id = c.id)           AS sites,
       (SELECT count(*) FROM etop.contacts x WHERE x.client_id = c.id)        AS contacts,
       (SELECT count(*) FROM etop.users x WHERE x.client_id = c.id)           AS users,
       (SELECT count(*) FROM etop.devices x WHERE x.client_id = c.id)         AS devices,
       (SELECT count(*) FROM etop.agreements x WHERE x.client_id = c.id)      AS agreements,
       (SELECT count(*) FROM etop.tickets x WHERE x.client_id = c.id)         AS tickets,
       (SELECT count(*) FROM etop.controls x WHERE x.client_id = c.id)        AS controls,
       (SELECT count(*) FROM etop.risks x WHERE x.client_id = c.id)           AS risks,
       (SELECT count(*) FROM etop.recommendations x WHERE x.client_id = c.id) AS recommendations
  FROM etop.clients c;
COMMENT ON VIEW etop.client_overview IS 'One row per client with the number of rows it owns in each table';
-- The built-in adapters register exactly as a third-party one would.
INSERT INTO etop.adapters (name, description, library, symbol, normalize_function, entities, builtin) VALUES
    ('connectwise', 'ConnectWise Manage REST API 3.0: companies, sites, contacts, agreements, tickets, configurations',
     '$libdir/etop', 'etop_adapter_connectwise', 'etop.normalize_connectwise(bigint)',
     '{clients,sites,contacts,agreements,tickets,devices}', true),
    ('immy', 'Immy.Bot API v1: computers, baselines (target assignments), compliance results',
     '$libdir/etop', 'etop_adapter_immy', 'etop.normalize_immy(bigint)',
     '{devices,controls,external_refs}', true),
    ('m365', 'Microsoft Graph v1.0: users, MFA registration, risky users, Secure Score, Defender alerts',
     '$libdir/etop', 'etop_adapter_m365', 'etop.normalize_m365(bigint)',
     '{users,controls,risks}', true);
-- Privileges and row-level security.  This piece runs after every object is
-- created, so it covers them all: nothing is granted to PUBLIC, the three
-- roles get what docs/security.md describes, and an etop_am sees only the
-- rows of the clients assigned to it (directly or through a group role).

-- Client ids the current role may see as an account manager.  Assignments to
-- a role that no longer exists simply match nobody.
CREATE FUNCTION etop.assigned_client_ids() RETURNS SETOF integer
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ca.client_id
      FROM etop.client_assignments ca
      JOIN pg_catalog.pg_roles r ON r.rolname = ca.am_role
     WHERE pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')
$$;
COMMENT ON FUNCTION etop.assigned_client_ids() IS 'Clients assigned to the current role (or a group role it belongs to)';

DO $security$
DECLARE
    t text;
    client_tables text[] := ARRAY['sites', 'contacts', 'users', 'devices', 'agreements',
                                  'tickets', 'controls', 'risks', 'recommendations',
                                  'external_refs', 'score_history', 'qbrs', 'qbr_jobs',
                                  'qbr_events', 'audit_log'];
BEGIN
    -- Every table, with its data, belongs in pg_dump output.
    -- (Built-in adapters are created by the extension script itself, so only
    -- the registered third-party ones are dumped.)
    FOR t IN SELECT c.relname FROM pg_class c
              WHERE c.relnamespace = 'etop'::regnamespace AND c.relkind IN ('r', 'S') LOOP
        PERFORM pg_catalog.pg_extension_config_dump(format('etop.%I', t),
                                                    CASE t WHEN 'adapters' THEN 'WHERE NOT builtin' ELSE '' END);
    END LOOP;

    EXECUTE 'ALTER TABLE etop.clients ENABLE ROW LEVEL SECURITY';
    EXECUTE 'CREATE POLICY admin_all ON etop.clients TO etop_admin USING (true) WITH CHECK (true)';
    EXECUTE 'CREATE POLICY reader_all ON etop.clients FOR SELECT TO etop_reader USING (true)';
    EXECUTE 'CREATE POLICY am_assigned ON etop.clients FOR SELECT TO etop_am
                 USING (id IN (SELECT etop.assigned_client_ids()))';

    FOREACH t IN ARRAY client_tables LOOP
        EXECUTE format('ALTER TABLE etop.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY admin_all ON etop.%I TO etop_admin USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY reader_all ON etop.%I FOR SELECT TO etop_reader USING (true)', t);
        EXECUTE format('CREATE POLICY am_assigned ON etop.%I FOR SELECT TO etop_am
                            USING (client_id IN (SELECT etop.assigned_client_ids()))', t);
    END LOOP;

    -- An account manager sees its own assignments (and its group roles').
    EXECUTE 'ALTER TABLE etop.client_assignments ENABLE ROW LEVEL SECURITY';
    EXECUTE 'CREATE POLICY admin_all ON etop.client_assignments TO etop_admin USING (true) WITH CHECK (true)';
    EXECUTE 'CREATE POLICY reader_all ON etop.client_assignments FOR SELECT TO etop_reader USING (true)';
    EXECUTE 'CREATE POLICY am_own ON etop.client_assignments FOR SELECT TO etop_am
                 USING (pg_catalog.pg_has_role(current_user,
                        (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = am_role), ''MEMBER''))';
END
$security$;

-- Nothing for PUBLIC.
REVOKE ALL ON ALL TABLES IN SCHEMA etop FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA etop FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA etop FROM PUBLIC;

-- Readers (BI tools) and account managers read everything except secrets;
-- RLS narrows what an account manager sees to its clients.
GRANT SELECT ON ALL TABLES IN SCHEMA etop TO etop_reader, etop_am, etop_admin;
REVOKE SELECT ON etop.connections FROM etop_reader, etop_am, etop_admin;
-- Sync internals have no client_id to filter on: the raw vendor pages (kept
-- after a failed run) hold every client's records, so an account manager,
-- who sees only its own clients, reads neither them nor the runs.
REVOKE SELECT ON etop.sync_pages, etop.sync_runs FROM etop_am;
GRANT SELECT (id, name, adapter, base_url, options, enabled, last_sync_at, sync_cursor,
              credentials_set_at, created_at, updated_at)
      ON etop.connections TO etop_admin;

-- Administrators manage data, adapters, assignments and settings.  They
-- write connections only through etop.connection_create()/connection_drop(),
-- so credentials are never read back.
GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA etop TO etop_admin;
REVOKE INSERT, UPDATE, DELETE ON etop.connections, etop.audit_log, etop.qbr_events FROM etop_admin;
GRANT UPDATE (enabled, options, base_url) ON etop.connections TO etop_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA etop TO etop_admin;

-- Functions: reading functions for everyone with an etop role; writing
-- functions for administrators.  Later pieces list their own grants here.
GRANT EXECUTE ON FUNCTION etop.build_info(), etop.setting(text), etop.setting_defaults(),
                          etop.assigned_client_ids()
      TO etop_admin, etop_am, etop_reader;
GRANT EXECUTE ON FUNCTION etop.setting_set(text, jsonb) TO etop_admin;
-- Privileges for the score engine (300_scores.sql).
GRANT EXECUTE ON FUNCTION etop.etop_scores(integer, date), etop.scores_all(date),
                          etop.standards_score(integer, date), etop.risk_score(integer, date),
                          etop.experience_score(integer, date), etop.quarter_label(date)
      TO etop_admin, etop_am, etop_reader;
GRANT EXECUTE ON FUNCTION etop.snapshot_scores(date) TO etop_admin;
GRANT SELECT ON etop.client_scores, etop.score_components TO etop_admin, etop_am, etop_reader;
-- (No REVOKE ... FROM PUBLIC here: 900_security.sql revoked every function from PUBLIC.)
-- Privileges for the QBR pipeline (400_citations.sql, ...).
GRANT EXECUTE ON FUNCTION etop.validate_citations(jsonb, integer) TO etop_admin, etop_am, etop_reader;
GRANT EXECUTE ON FUNCTION etop.narrative_input(integer, date), etop.narrative_offline(jsonb),
                          etop.level_rank(text) TO etop_admin, etop_am, etop_reader;
-- Queue internals: for etop_admin (and the workers, which run as the bootstrap superuser).
GRANT EXECUTE ON FUNCTION etop.job_claim(interval), etop.job_progress(uuid, integer),
                          etop.job_fail(uuid, text, boolean, boolean), etop.qbr_step(uuid, integer),
                          etop.job_store_narrative(uuid, jsonb, jsonb), etop.qbr_run_job(uuid)
      TO etop_admin;
-- Reviews: account managers (RLS limits them to their clients) and admins.
GRANT EXECUTE ON FUNCTION etop.qbr_review(integer, text, text), etop.qbr_approve(integer, text),
                          etop.qbr_reject(integer, text), etop.qbr_pdf(integer)
      TO etop_admin, etop_am;
GRANT EXECUTE ON FUNCTION etop.qbr_pdf(integer) TO etop_reader;
GRANT UPDATE (status, review_note) ON etop.qbrs TO etop_am;
CREATE POLICY am_review ON etop.qbrs FOR UPDATE TO etop_am
    USING (client_id IN (SELECT etop.assigned_client_ids()))
    WITH CHECK (client_id IN (SELECT etop.assigned_client_ids()));
-- (No REVOKE ... FROM PUBLIC here: 900_security.sql revoked every function from PUBLIC.)
-- Privileges for the normalization functions (750_normalize.sql ...): they
-- write normalized tables from a sync run's pages, so only administrators
-- (and the sync workers, which run as the bootstrap superuser) call them.
-- The shared helpers are granted too: a third-party adapter's normalization
-- function uses them the same way.
GRANT EXECUTE ON FUNCTION etop.normalize_connectwise(bigint), etop.normalize_immy(bigint),
                          etop.normalize_m365(bigint),
                          etop.sync_page_records(jsonb), etop.sync_records(bigint, text[]),
                          etop.sync_latest(bigint, text[], boolean, text),
                          etop.sync_is_timestamp(text), etop.sync_ts(text), etop.sync_date(text),
                          etop.serial_key(text), etop.sync_kind_ok(jsonb, text), etop.sync_json_path(text, text),
                          etop.sync_record_label(jsonb, integer, integer),
                          etop.sync_fail(text, text, text, text, text, text),
                          etop.sync_validate(bigint, text, text[], text, jsonb, text, text, text),
                          etop.sync_run_options(bigint),
                          etop.cw_time_zone(text, jsonb), etop.cw_device_type(text, text, jsonb),
                          etop.cw_priority(text, integer, jsonb), etop.cw_move_records(bigint, text, text[]),
                          etop.immy_tenant_clients(bigint, jsonb, text[], text[]),
                          etop.m365_client(bigint, jsonb)
      TO etop_admin;
-- (No REVOKE ... FROM PUBLIC here: 900_security.sql revoked every function from PUBLIC.)
-- Privileges for connections and syncs (430_sync.sql).
GRANT EXECUTE ON FUNCTION etop._sync_launch(bigint, integer, boolean), etop.connection_create(text, text, text, jsonb, jsonb), etop.connection_drop(text),
                          etop.connection_update(text, text, jsonb, jsonb, boolean),
                          etop.sync_reap(), etop.sync(text, boolean), etop.sync_wait(bigint, interval),
                          etop.sync_now(text, boolean), etop.sync_cancel(bigint)
      TO etop_admin;
GRANT UPDATE (cancel_requested) ON etop.sync_runs TO etop_admin;
-- (No REVOKE ... FROM PUBLIC here: 900_security.sql revoked every function from PUBLIC.)
-- Privileges for QBR cadence, the QBR queue's entry points and scheduling
-- (600_cadence.sql, 610_qbr_enqueue.sql, 620_schedules.sql).  900_security.sql
-- has already revoked every function from PUBLIC and granted SELECT on the
-- views (etop.qbr_calendar, etop.schedules) to the three roles.

-- Reading: everyone with an etop role (row-level security narrows an
-- account manager to its clients).
GRANT EXECUTE ON FUNCTION
      etop.qbr_cadence(text), etop.qbr_next_due(date, text),
      etop.qbr_cadence_status(integer, text, date, date, integer),
      etop.qbr_grace_days(), etop.due_for_qbr(date), etop.qbr_status(uuid),
      etop.schedule_list()
   TO etop_admin, etop_am, etop_reader;

-- Asking for a QBR: administrators, and account managers for their clients.
GRANT EXECUTE ON FUNCTION etop.qbr_generate(integer, jsonb) TO etop_admin, etop_am;

-- qbr_generate runs as the caller.  An account manager may insert a job only
-- for an assigned client and only name the client and the options: status,
-- attempts, qbr_id, requested_by and the rest keep their defaults.
GRANT INSERT (client_id, options) ON etop.qbr_jobs TO etop_am;
CREATE POLICY am_enqueue ON etop.qbr_jobs FOR INSERT TO etop_am
    WITH CHECK (client_id IN (SELECT etop.assigned_client_ids())
                AND status = 'queued' AND attempts = 0 AND qbr_id IS NULL
                AND requested_by = current_user);

-- Running the check by hand and managing schedules: administrators.
-- (etop.require_pg_cron and etop.cron_schedule are internal and granted to
-- nobody.)
GRANT EXECUTE ON FUNCTION
      etop.run_qbr_check(date),
      etop.schedule_sync(text, text), etop.schedule_qbr_check(text),
      etop.schedule_score_snapshots(text), etop.unschedule(text)
   TO etop_admin;
-- Grants for QBR PDF rendering.  etop.qbr_render_doc() reads nothing but its
-- argument, so every etop role may render documents it already holds.
GRANT EXECUTE ON FUNCTION etop.qbr_render_doc(jsonb) TO etop_admin, etop_am, etop_reader;
GRANT EXECUTE ON FUNCTION etop.qbr_document(integer, jsonb, date, boolean), etop.qbr_render(integer, jsonb, date),
                          etop.json_texts(jsonb), etop.narrative_for_document(jsonb)
      TO etop_admin, etop_am, etop_reader;
-- (No REVOKE ... FROM PUBLIC here: 900_security.sql revoked every function from PUBLIC.)
