-- etop install script, assembled by the Makefile from sql/install/*.sql in name order.
\echo Use "CREATE EXTENSION etop" to load this file. \quit

CREATE SCHEMA etop;
COMMENT ON SCHEMA etop IS 'etop: MSP client health scores and QBR drafts (extension-owned)';
-- Internals (workers' queue steps, trigger functions, sync plumbing, demo
-- loaders) live apart from what users call, as TimescaleDB keeps
-- _timescaledb_internal: \df etop.* lists only etop's API.
CREATE SCHEMA etop_internal;
COMMENT ON SCHEMA etop_internal IS 'etop: internal functions (not an API; may change in any version)';

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
REVOKE ALL ON SCHEMA etop_internal FROM PUBLIC;
GRANT USAGE ON SCHEMA etop_internal TO etop_admin, etop_am, etop_reader;

-- Build information (versions of etop, PostgreSQL, libcurl, libharu).
CREATE FUNCTION etop.build_info() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'etop_build_info'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
