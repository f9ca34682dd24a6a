-- Deterministic demo data: etop.demo_seed(clients, seed, as_of).
--
-- Fills the normalized tables with believable MSP data for `clients` client
-- companies: sites, contacts, ~60 Entra ID users, ~100 devices (names like
-- WS-ACCT-01, aging hardware, patch and EDR state), ~500 tickets a year for
-- two years before as_of (categories, SLA outcomes, reopens, after-hours),
-- Immy.Bot baseline results per device, 28 Secure Score controls, risks and
-- recommendations.  Everything is set-based and every "random" value is a
-- hash of (seed, entity, ordinal), so the same arguments always produce the
-- same rows whatever plan the server picks.  Demo rows have source = 'demo';
-- calling it again replaces the previous demo data and nothing else.

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

CREATE FUNCTION etop.demo_seed(clients integer, seed integer DEFAULT 1,
                               as_of date DEFAULT current_date)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = etop, pg_catalog, pg_temp
AS $$
DECLARE
    counts jsonb;
    t0 timestamptz := clock_timestamp();
BEGIN
    IF clients IS NULL OR clients < 1 OR clients > 20000 THEN
        RAISE EXCEPTION 'demo_seed: clients must be between 1 and 20000, got %', clients
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Replace earlier demo data (cascades to every client-owned table).
    DELETE FROM etop.clients WHERE source = 'demo';

    -- Bulk load: every row below references a client or device created in
    -- this function, so foreign-key checks (per-row triggers) are skipped for
    -- the rest of the transaction, and for large seeds the tickets indexes
    -- that receive keys in random order are rebuilt once at the end instead
    -- of being updated row by row.  Both are undone if anything fails.
    PERFORM set_config('session_replication_role', 'replica', true);
    IF clients >= 200 THEN
        DROP INDEX etop.idx_tickets_client;
        DROP INDEX etop.idx_tickets_created;
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

    -- Sites: 1-3 per client.
    INSERT INTO etop.sites (client_id, source, external_id, name, address)
    SELECT c.client_id, 'demo', 'SITE-' || c.ord || '-' || s,
           (ARRAY['Headquarters', 'Branch Office', 'Warehouse'])[s],
           (100 + floor(demo_rand(c.ord * 10 + s, 11, seed) * 9800))::int || ' ' ||
           demo_pick(ARRAY['Main St', 'Commerce Dr', 'Industrial Pkwy', 'Oak Ave', 'Harbor Blvd',
                           'Market St', 'Lakeview Rd'], demo_rand(c.ord * 10 + s, 12, seed)) || ', ' ||
           demo_pick(ARRAY['Springfield, IL', 'Portland, OR', 'Austin, TX', 'Columbus, OH',
                           'Raleigh, NC', 'Denver, CO', 'Madison, WI'], demo_rand(c.ord, 13, seed))
      FROM demo_c c, generate_series(1, 1 + floor(demo_rand(c.ord, 10, seed) * 3)::int) s;

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

    -- Users: Entra ID accounts with a per-client MFA adoption rate and a few
    -- risky sign-ins.
    INSERT INTO etop.users (client_id, source, external_id, display_name, email, upn,
                            account_enabled, mfa_enabled, risk_level, last_sign_in)
    SELECT c.client_id, 'demo', 'USR-' || c.ord || '-' || u,
           fn || ' ' || ln, lower(fn || '.' || ln || u || '@' || c.domain),
           lower(fn || '.' || ln || u || '@' || c.domain),
           demo_rand(c.ord * 1000 + u, 33, seed) > 0.04,
           demo_rand(c.ord * 1000 + u, 30, seed) < 0.55 + 0.45 * demo_rand(c.ord, 31, seed),
           CASE WHEN rr < 0.02 THEN 'high' WHEN rr < 0.05 THEN 'medium' WHEN rr < 0.12 THEN 'low'
                ELSE 'none' END,
           as_of - make_interval(hours => floor(demo_rand(c.ord * 1000 + u, 34, seed) *
                                               CASE WHEN demo_rand(c.ord * 1000 + u, 35, seed) < 0.08
                                                    THEN 4000 ELSE 300 END)::int)
      FROM demo_c c, generate_series(1, c.n_usr) u,
           LATERAL (SELECT demo_pick(ARRAY['anna','ben','carla','david','elena','frank','grace',
                                           'hassan','ines','jonas','keiko','liam','maria','noah',
                                           'olga','priya','quinn','rosa','sam','tomas'],
                                     demo_rand(c.ord * 1000 + u, 36, seed)) AS fn,
                           demo_pick(ARRAY['schmidt','johnson','garcia','nguyen','okafor','rossi',
                                           'kowalski','brown','tanaka','mueller','dubois','patel',
                                           'lee','silva','jansen'],
                                     demo_rand(c.ord * 1000 + u, 37, seed)) AS ln,
                           demo_rand(c.ord * 1000 + u, 32, seed) AS rr) p;

    -- Devices: 3 network devices, 3 servers, then workstations and laptops
    -- named by department.  Purchase dates spread over 7 years, so some
    -- hardware is due for replacement; management, patch and EDR coverage
    -- vary per client.
    INSERT INTO etop.devices (client_id, site_id, source, external_id, name, type, os, managed,
                              health_status, last_seen, serial_number, manufacturer, model,
                              purchase_date, warranty_expires, last_patched_at, edr_installed, edr_healthy)
    SELECT c.client_id, NULL, 'demo', 'CFG-' || c.ord || '-' || d,
           CASE WHEN d <= 3 THEN (ARRAY['FW-MAIN-01', 'SW-CORE-01', 'AP-OFFICE-01'])[d]
                WHEN d <= 6 THEN (ARRAY['SRV-DC-01', 'SRV-FILE-01', 'SRV-APP-01'])[d - 3]
                ELSE (CASE WHEN r1 < 0.45 THEN 'LT-' ELSE 'WS-' END)
                     || (ARRAY['ACCT','SALES','OPS','HR','EXEC','ENG','FRONT'])[1 + (d - 7) % 7]
                     || '-' || lpad(((d - 7) / 7 + 1)::text, 2, '0') END,
           dtype,
           CASE dtype WHEN 'network' THEN (ARRAY['FortiOS 7.2', 'Cisco IOS-XE 17.9', 'UniFi OS 3.2'])[d]
                      WHEN 'server' THEN demo_pick(ARRAY['Windows Server 2022', 'Windows Server 2019',
                                                         'Windows Server 2016'], r2)
                      ELSE demo_pick(ARRAY['Windows 11 Pro 23H2', 'Windows 11 Pro 22H2',
                                           'Windows 10 Pro 22H2', 'macOS 14 Sonoma'], r2) END,
           managed,
           CASE WHEN r3 < 0.78 THEN 'healthy' WHEN r3 < 0.95 THEN 'warning' ELSE 'critical' END,
           as_of - make_interval(hours => floor(r4 * 96)::int),
           upper(substr(md5(seed || '/' || c.ord || '/' || d), 1, 10)),
           mfr.m, mfr.model,
           purchased,
           purchased + CASE dtype WHEN 'server' THEN 5 * 365 ELSE 3 * 365 END,
           CASE WHEN managed THEN as_of - make_interval(days => floor(
                     CASE WHEN demo_rand(c.ord * 1000 + d, 46, seed) < 0.80 + 0.18 * demo_rand(c.ord, 47, seed)
                          THEN r5 * 29 ELSE 31 + r5 * 90 END)::int) END,
           edr, edr AND demo_rand(c.ord * 1000 + d, 49, seed) < 0.95
      FROM demo_c c, generate_series(1, c.n_dev) d,
           LATERAL (SELECT demo_rand(c.ord * 1000 + d, 40, seed) AS r1,
                           demo_rand(c.ord * 1000 + d, 41, seed) AS r2,
                           demo_rand(c.ord * 1000 + d, 42, seed) AS r3,
                           demo_rand(c.ord * 1000 + d, 43, seed) AS r4,
                           demo_rand(c.ord * 1000 + d, 45, seed) AS r5,
                           CASE WHEN d <= 3 THEN 'network' WHEN d <= 6 THEN 'server' ELSE 'endpoint' END AS dtype,
                           demo_rand(c.ord * 1000 + d, 44, seed) < 0.82 + 0.18 * demo_rand(c.ord, 48, seed) AS managed,
                           as_of - floor(demo_rand(c.ord * 1000 + d, 50, seed) * 7 * 365)::int AS purchased) x,
           LATERAL (SELECT demo_rand(c.ord * 1000 + d, 51, seed) < 0.85 + 0.15 * demo_rand(c.ord, 52, seed)
                           AND x.managed AS edr) e,
           LATERAL (SELECT CASE x.dtype
                      WHEN 'network' THEN (ARRAY['Fortinet', 'Cisco', 'Ubiquiti'])[d]
                      WHEN 'server' THEN 'Dell'
                      ELSE demo_pick(ARRAY['Dell', 'Lenovo', 'HP', 'Apple'], x.r2) END AS m,
                           CASE x.dtype
                      WHEN 'network' THEN (ARRAY['FortiGate 60F', 'Catalyst 9200L', 'U6-Pro'])[d]
                      WHEN 'server' THEN demo_pick(ARRAY['PowerEdge R740', 'PowerEdge R650', 'PowerEdge T440'], x.r1)
                      ELSE demo_pick(ARRAY['OptiPlex 7090', 'ThinkPad T14 Gen 3', 'EliteBook 840 G8',
                                           'MacBook Pro 14'], x.r2) END AS model) mfr;

    -- Immy.Bot baseline results: one per managed device.
    INSERT INTO etop.controls (client_id, device_id, source, external_id, control_type, title,
                               status, evidence, last_checked)
    SELECT d.client_id, d.id, 'demo', 'IMMY-' || d.external_id, 'immy_baseline', b.title,
           CASE WHEN r < 0.78 + 0.2 * demo_rand(c.ord, 61, seed) THEN 'pass'
                WHEN r < 0.97 THEN 'fail' ELSE 'unknown' END,
           jsonb_build_object('baseline', b.title, 'device', d.name,
                              'drift_items', CASE WHEN r < 0.8 THEN 0 ELSE 1 + floor(r * 5)::int END),
           as_of - make_interval(hours => floor(demo_rand(hashtext(d.external_id), 62, seed) * 20)::int)
      FROM etop.devices d JOIN demo_c c ON c.client_id = d.client_id,
           LATERAL (SELECT CASE d.type WHEN 'server' THEN 'Server Baseline'
                                       WHEN 'network' THEN 'Network Baseline'
                                       ELSE 'Workstation Baseline' END AS title,
                           demo_rand(hashtext(d.external_id), 60, seed) AS r) b
     WHERE d.managed AND d.source = 'demo';

    -- Microsoft Secure Score: 28 control profiles per tenant.
    INSERT INTO etop.controls (client_id, source, external_id, control_type, title, status,
                               evidence, last_checked)
    SELECT c.client_id, 'demo', 'SSC-' || c.ord || '-' || p.n, 'm365_secure_score', p.title,
           CASE WHEN earned >= p.max THEN 'pass' WHEN earned = 0 THEN 'fail' ELSE 'unknown' END,
           jsonb_build_object('score', earned, 'maxScore', p.max, 'category', p.cat),
           as_of - interval '6 hours'
      FROM demo_c c,
           (VALUES (1, 'MFA Enforcement', 10, 'Identity'), (2, 'Block Legacy Authentication', 8, 'Identity'),
                   (3, 'Admin MFA Required', 10, 'Identity'), (4, 'Self-Service Password Reset', 1, 'Identity'),
                   (5, 'Sign-in Risk Policy', 7, 'Identity'), (6, 'User Risk Policy', 7, 'Identity'),
                   (7, 'Limited Global Admins', 1, 'Identity'), (8, 'Password Expiration Disabled', 8, 'Identity'),
                   (9, 'Safe Links for Office', 9, 'Apps'), (10, 'Safe Attachments', 8, 'Apps'),
                   (11, 'Anti-Phishing Policy', 9, 'Apps'), (12, 'DKIM Signing', 1, 'Apps'),
                   (13, 'DMARC Policy', 1, 'Apps'), (14, 'External Email Tagging', 1, 'Apps'),
                   (15, 'Mailbox Auditing', 1, 'Apps'), (16, 'Customer Lockbox', 1, 'Data'),
                   (17, 'Data Loss Prevention', 3, 'Data'), (18, 'Sensitivity Labels', 3, 'Data'),
                   (19, 'OneDrive Sync Restriction', 2, 'Data'), (20, 'External Sharing Limits', 3, 'Data'),
                   (21, 'Defender for Endpoint Onboarding', 10, 'Device'), (22, 'Attack Surface Reduction Rules', 9, 'Device'),
                   (23, 'BitLocker Encryption', 5, 'Device'), (24, 'Windows Firewall Enabled', 4, 'Device'),
                   (25, 'Tamper Protection', 5, 'Device'), (26, 'Audit Log Search', 3, 'Apps'),
                   (27, 'Guest Access Review', 2, 'Identity'), (28, 'Privileged Identity Management', 3, 'Identity')
           ) p(n, title, max, cat),
           LATERAL (SELECT CASE WHEN demo_rand(c.ord * 100 + p.n, 70, seed) < 0.35 + 0.55 * demo_rand(c.ord, 71, seed)
                                THEN p.max
                                WHEN demo_rand(c.ord * 100 + p.n, 72, seed) < 0.5 THEN 0
                                ELSE floor(p.max * demo_rand(c.ord * 100 + p.n, 73, seed))::int END AS earned) e;

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

    -- Tickets: about 4.2 a year per user (~500 a year for a 60-user
    -- client... scaled by the client's own ticket appetite) over the two years
    -- before as_of, with a per-client trend, SLA rate, reopen rate and
    -- after-hours share.
    INSERT INTO etop.tickets (client_id, device_id, source, external_id, summary, category, priority,
                              status, hours_spent, sla_met, reopen_count, csat_score, after_hours,
                              created_date, closed_date)
    SELECT c.client_id, NULL, 'demo', (100000 + c.ord * 5000 + t)::text,
           cat || ': ' || demo_pick(ARRAY['user reports', 'recurring', 'urgent', 'follow-up on',
                                          'scheduled', 'escalated'], r2) || ' ' ||
           lower(cat) || ' issue',
           cat,
           CASE WHEN r3 < 0.05 THEN 'critical' WHEN r3 < 0.25 THEN 'high' WHEN r3 < 0.75 THEN 'medium' ELSE 'low' END,
           CASE WHEN created > as_of - 5 AND r4 < 0.6 THEN
                     demo_pick(ARRAY['New', 'In Progress', 'Waiting on Client'], r2)
                ELSE 'Closed' END,
           round((0.25 + r4 * r4 * 6)::numeric, 2),
           demo_rand(k, 104, seed) < p.sla,
           CASE WHEN demo_rand(k, 105, seed) < p.reopen
                THEN 1 + floor(demo_rand(k, 106, seed) * 1.4)::int ELSE 0 END,
           CASE WHEN demo_rand(k, 107, seed) < 0.3 THEN 3 + floor(demo_rand(k, 108, seed) * 2.9)::int END,
           extract(isodow FROM created) >= 6 OR extract(hour FROM created) NOT BETWEEN 8 AND 17,
           created,
           CASE WHEN created > as_of - 5 AND r4 < 0.6 THEN NULL
                ELSE created + make_interval(mins => 20 + floor(r4 * r4 * 4000)::int) END
      FROM demo_c c,
           LATERAL (SELECT greatest(20, round(c.n_usr * (6.5 + 5 * demo_rand(c.ord, 100, seed)) * 2))::int AS n,
                           0.75 + 0.23 * demo_rand(c.ord, 101, seed) AS sla,
                           0.02 + 0.12 * demo_rand(c.ord, 102, seed) * demo_rand(c.ord, 103, seed) AS reopen,
                           0.7 + 0.6 * demo_rand(c.ord, 109, seed) AS trend) p,
           generate_series(1, p.n) t,
           LATERAL (SELECT c.ord::bigint * 100000 + t AS k) kk,
           LATERAL (SELECT demo_rand(k, 110, seed) AS r1, demo_rand(k, 111, seed) AS r2,
                           demo_rand(k, 112, seed) AS r3, demo_rand(k, 113, seed) AS r4) r,
           LATERAL (SELECT demo_pick(ARRAY['Password Reset', 'Email / Outlook', 'Printer',
                                           'VPN / Remote Access', 'Hardware Failure', 'Software Install',
                                           'Network Outage', 'New User Setup', 'User Offboarding',
                                           'Phishing Report', 'Backup Failure', 'Line-of-Business App'],
                                     r1 * r1) AS cat,
                           -- day in the two years before as_of (a trend above 1 puts more tickets
                           -- in recent quarters); 12% are raised after hours (18:30-02:30), the
                           -- rest on weekdays between 08:00 and 18:00.
                           (as_of - 730 + floor(730 * power(demo_rand(k, 114, seed), 1.0 / p.trend))::int) AS day0,
                           demo_rand(k, 115, seed) < 0.12 AS late) g0,
           LATERAL (SELECT (g0.day0 - CASE WHEN NOT g0.late AND extract(isodow FROM g0.day0) >= 6
                                           THEN extract(isodow FROM g0.day0)::int - 5 ELSE 0 END)::timestamp
                           + make_interval(mins => CASE WHEN g0.late
                                                        THEN floor(demo_rand(k, 116, seed) * 480)::int + 1110
                                                        ELSE 480 + floor(demo_rand(k, 116, seed) * 600)::int END)
                           AS created) g;

    IF clients >= 200 THEN
        CREATE INDEX idx_tickets_client ON etop.tickets (client_id, created_date)
            INCLUDE (sla_met, reopen_count, after_hours);
        CREATE INDEX idx_tickets_created ON etop.tickets (created_date)
            INCLUDE (client_id, sla_met, reopen_count, after_hours);
    END IF;
    PERFORM set_config('session_replication_role', 'origin', true);

    SELECT jsonb_build_object(
        'clients',         (SELECT count(*) FROM demo_c),
        'sites',           (SELECT count(*) FROM etop.sites s JOIN demo_c c USING (client_id)),
        'contacts',        (SELECT count(*) FROM etop.contacts s JOIN demo_c c USING (client_id)),
        'users',           (SELECT count(*) FROM etop.users s JOIN demo_c c USING (client_id)),
        'devices',         (SELECT count(*) FROM etop.devices s JOIN demo_c c USING (client_id)),
        'agreements',      (SELECT count(*) FROM etop.agreements s JOIN demo_c c USING (client_id)),
        'tickets',         (SELECT count(*) FROM etop.tickets s JOIN demo_c c USING (client_id)),
        'controls',        (SELECT count(*) FROM etop.controls s JOIN demo_c c USING (client_id)),
        'risks',           (SELECT count(*) FROM etop.risks s JOIN demo_c c USING (client_id)),
        'recommendations', (SELECT count(*) FROM etop.recommendations s JOIN demo_c c USING (client_id)))
      INTO counts;
    RAISE DEBUG 'etop.demo_seed: % clients in % s', clients,
        round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);
    DROP TABLE demo_c;
    RETURN counts;
END
$$;
COMMENT ON FUNCTION etop.demo_seed(integer, integer, date) IS
    'Replace demo data (source = demo) with N deterministic demo clients; returns row counts';
