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
CREATE FUNCTION etop_internal.demo_rand(k bigint, salt integer, seed integer) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (pg_catalog.hashint8extended(k * 7919 + salt, seed) & 2147483647)::float8 / 2147483648.0
$$;

-- Pick one element of an array with a pseudo-random number in [0, 1).
CREATE FUNCTION etop_internal.demo_pick(options text[], r float8) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT options[1 + floor(r * cardinality(options))::int]
$$;

-- The C loaders: one array element per client (id, ordinal N of DEMO-0000N,
-- size), rows written into the caller's transaction.  Used by demo_seed only.
CREATE FUNCTION etop_internal.demo_load_users(client_ids integer[], ords integer[], n_users integer[],
                                     domains text[], seed integer, as_of date)
RETURNS bigint
AS 'MODULE_PATHNAME', 'etop_demo_load_users'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION etop_internal.demo_load_users(integer[], integer[], integer[], text[], integer, date) IS
    'demo_seed helper: writes the clients'' Entra ID users; returns the number of rows';

CREATE FUNCTION etop_internal.demo_load_devices(client_ids integer[], ords integer[], n_devices integer[],
                                       seed integer, as_of date,
                                       OUT devices bigint, OUT controls bigint)
AS 'MODULE_PATHNAME', 'etop_demo_load_devices'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION etop_internal.demo_load_devices(integer[], integer[], integer[], integer, date) IS
    'demo_seed helper: writes the clients'' devices and controls (Immy.Bot baselines, Secure Score)';

CREATE FUNCTION etop_internal.demo_load_tickets(client_ids integer[], ords integer[], n_users integer[],
                                       seed integer, as_of date)
RETURNS bigint
AS 'MODULE_PATHNAME', 'etop_demo_load_tickets'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION etop_internal.demo_load_tickets(integer[], integer[], integer[], integer, date) IS
    'demo_seed helper: writes the clients'' tickets of the two years before as_of';

CREATE FUNCTION etop.demo_seed(clients integer, seed integer DEFAULT 1,
                               as_of date DEFAULT current_date)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = etop, etop_internal, pg_catalog, pg_temp
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
    PERFORM etop_internal.demo_load_users(a_ids, a_ords, a_users, a_domains, seed, as_of);
    RAISE DEBUG 'demo_seed: users at % s', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);

    -- Devices: 3 network devices, 3 servers, then workstations and laptops
    -- named by department (WS-ACCT-01, LT-SALES-02), mostly of the client's
    -- standard vendor.  Purchase dates spread over 7 years, so some hardware
    -- is due for replacement and still runs Windows 10; management, patch and
    -- EDR coverage vary per client.  Controls: each managed device's
    -- Immy.Bot baseline result, and the tenant's 28 Microsoft Secure Score
    -- controls (implemented fully, partly or not at all).
    PERFORM etop_internal.demo_load_devices(a_ids, a_ords, a_devices, seed, as_of);
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
    n_tickets := etop_internal.demo_load_tickets(a_ids, a_ords, a_users, seed, as_of);
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
