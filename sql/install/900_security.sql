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
                                  'external_refs', 'score_history', 'qbrs', 'qbr_jobs', 'unavailable_sources',
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
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA etop_internal FROM PUBLIC;

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
