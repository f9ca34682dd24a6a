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

-- Vendor data a client's tenant does not give: an endpoint (or a property of
-- one) the vendor refused because the tenant lacks a licence or the app a
-- permission.  One row per client, source and dataset while it is
-- unavailable; the sync that gets it again deletes the row.  The scores leave
-- an unavailable source out (docs/scoring.md, the missing-source rule) and say why.
CREATE TABLE etop.unavailable_sources (
    client_id    integer NOT NULL REFERENCES etop.clients(id) ON DELETE CASCADE,
    source       varchar(50) NOT NULL,      -- 'm365'
    dataset      varchar(50) NOT NULL,      -- 'mfa', 'user_risk', 'sign_in_activity', 'secure_score', 'alerts'
    reason       varchar(20) NOT NULL CHECK (reason IN ('licence', 'permission')),
    needs        text        NOT NULL,      -- 'Microsoft Entra ID P2', 'SecurityAlert.Read.All'
    endpoint     text        NOT NULL,      -- 'identityProtection/riskyUsers', 'users (signInActivity)'
    vendor_code  text,                      -- 'Authentication_RequestFromNonPremiumTenantOrB2CTenant'
    run_id       bigint,                    -- the last sync run that was refused
    since        timestamptz NOT NULL DEFAULT now(),
    checked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, source, dataset)
);
COMMENT ON TABLE etop.unavailable_sources IS
    'Vendor data a client''s tenant does not give (licence or permission), per dataset: scores leave it out';
