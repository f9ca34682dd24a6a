-- ConnectWise Manage -> clients, sites, contacts, agreements, devices, tickets.
-- Endpoints (etop.sync_pages.endpoint): company/companies, company/sites (or
-- company/companies/{id}/sites), company/contacts, finance/agreements,
-- company/configurations, service/tickets.  The mapping, field by field, is in
-- docs/adapters.md.

-- A ConnectWise time-zone setup name ("US Eastern", "Eastern Standard
-- Time", "(UTC-05:00) Eastern Time (US & Canada)") or an IANA name as an IANA
-- name; connections.options.time_zone_map ({"<name>": "<IANA name>"}) comes
-- first.  NULL when unknown.
CREATE FUNCTION etop_internal.cw_time_zone(p_name text, p_opts jsonb DEFAULT '{}') RETURNS text
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
COMMENT ON FUNCTION etop_internal.cw_time_zone(text, jsonb) IS
    'IANA time zone of a ConnectWise time-zone setup name (options.time_zone_map first); NULL when unknown';

-- A ConnectWise configuration type as an etop device type; options.device_type_map
-- ({"<type name>": "endpoint|server|network"}) comes first.  The OS decides
-- when the type name says nothing.  NULL when unknown.
CREATE FUNCTION etop_internal.cw_device_type(p_type text, p_os text, p_opts jsonb DEFAULT '{}') RETURNS text
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
COMMENT ON FUNCTION etop_internal.cw_device_type(text, text, jsonb) IS
    'etop device type (endpoint/server/network) of a ConnectWise configuration type name (options.device_type_map first)';

-- A ConnectWise priority name as critical/high/medium/low: "Priority N - ..."
-- by its number (1 critical, 2 high, 3 medium, 4+ low), else by its words;
-- options.priority_map ({"<name>": "high"}) comes first.
CREATE FUNCTION etop_internal.cw_priority(p_name text, p_sort integer, p_opts jsonb DEFAULT '{}') RETURNS text
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
COMMENT ON FUNCTION etop_internal.cw_priority(text, integer, jsonb) IS
    'critical/high/medium/low of a ConnectWise priority ("Priority 1 - ..." = critical; options.priority_map first)';

-- Rows a ConnectWise record moved to another company: move them to the new
-- client, so an upsert updates them instead of creating a second row.  Only
-- records not yet in their company's client can have moved (index probes);
-- those are looked up across clients with one hash join.
CREATE FUNCTION etop_internal.cw_move_records(p_run bigint, p_table text, p_endpoints text[]) RETURNS bigint
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
COMMENT ON FUNCTION etop_internal.cw_move_records(bigint, text, text[]) IS
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
                                'unknown_companies to "skip" (the default) to leave out and count records of companies etop does not know.';
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
    -- a configuration (ticket, ...) of a former client is normal data: skipped
    -- and counted by default; "error" makes it fail the run
    v_skip := coalesce(v_opts ->> 'unknown_companies', 'skip') = 'skip';
    IF v_opts ? 'time_zone' THEN
        v_default_tz := etop_internal.cw_time_zone(v_opts ->> 'time_zone', v_opts);
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
        "id": "int32!", "name": "string!", "identifier": "string", "market": "object", "market.name": "string",
        "timeZoneSetup": "object", "timeZoneSetup.name": "string", "_info": "object",
        "_info.lastUpdated": "timestamp"}$j$);
    SELECT records, duplicates > 0 INTO n_sites, d_sites
      FROM etop.sync_validate(v_run, v_vendor, ep_sites, 'id', $j${
        "id": "int32!", "name": "string", "company": "object", "company.id": "int32",
        "addressLine1": "string", "addressLine2": "string", "city": "string", "zip": "string",
        "stateReference": "object", "stateReference.identifier": "string", "country": "object",
        "country.name": "string", "timeZone": "object", "timeZone.name": "string"}$j$);
    SELECT records, duplicates > 0 INTO n_contacts, d_contacts
      FROM etop.sync_validate(v_run, v_vendor, '{company/contacts}', 'id', $j${
        "id": "int32!", "firstName": "string", "lastName": "string", "title": "string",
        "company": "object", "company.id": "int32", "communicationItems": "array",
        "defaultPhoneNbr": "string", "types": "array"}$j$);
    SELECT records, duplicates > 0 INTO n_agreements, d_agreements
      FROM etop.sync_validate(v_run, v_vendor, '{finance/agreements}', 'id', $j${
        "id": "int32!", "name": "string", "type": "object", "type.name": "string",
        "company": "object!", "company.id": "int32!", "billAmount": "number", "billingCycle": "object",
        "billingCycle.name": "string", "startDate": "timestamp", "endDate": "timestamp",
        "noEndingDateFlag": "boolean", "cancelledFlag": "boolean", "dateCancelled": "timestamp",
        "oneTimeFlag": "boolean", "_info": "object", "_info.lastUpdated": "timestamp"}$j$);
    SELECT records, duplicates > 0 INTO n_devices, d_devices
      FROM etop.sync_validate(v_run, v_vendor, '{company/configurations}', 'id', $j${
        "id": "int32!", "name": "string!", "type": "object", "type.name": "string",
        "company": "object!", "company.id": "int32!", "site": "object", "site.id": "int32",
        "serialNumber": "string", "modelNumber": "string", "manufacturer": "object",
        "manufacturer.name": "string", "osType": "string", "purchaseDate": "timestamp",
        "warrantyExpirationDate": "timestamp", "_info": "object", "_info.lastUpdated": "timestamp"}$j$);
    SELECT records, duplicates > 0 INTO n_tickets, d_tickets
      FROM etop.sync_validate(v_run, v_vendor, '{service/tickets}', 'id', $j${
        "id": "int32!", "summary": "string!", "company": "object!", "company.id": "int32!",
        "site": "object", "site.id": "int32", "board": "object", "board.name": "string",
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
      FROM (SELECT x.id, etop_internal.cw_time_zone(x.tzname, v_opts) AS tz
              FROM (SELECT r.rec ->> 'id' AS id, r.rec -> 'timeZone' ->> 'name' AS tzname
                      FROM etop.sync_latest(v_run, ep_sites, d_sites) r) x) s;
    SELECT coalesce(jsonb_object_agg(s.id, s.tz) FILTER (WHERE s.tz IS NOT NULL), '{}') INTO v_company_tz
      FROM (SELECT x.id, etop_internal.cw_time_zone(x.tzname, v_opts) AS tz
              FROM (SELECT r.rec ->> 'id' AS id,
                           r.rec -> 'timeZoneSetup' ->> 'name' AS tzname
                      FROM etop.sync_latest(v_run, '{company/companies}', d_companies) r) x) s;

    -- Sites.
    PERFORM etop_internal.cw_move_records(v_run, 'sites', ep_sites);
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
    PERFORM etop_internal.cw_move_records(v_run, 'contacts', '{company/contacts}');
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
    PERFORM etop_internal.cw_move_records(v_run, 'agreements', '{finance/agreements}');
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
    PERFORM etop_internal.cw_move_records(v_run, 'devices', '{company/configurations}');
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
               etop_internal.cw_device_type(rec -> 'type' ->> 'name', rec ->> 'osType', v_opts),
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
    PERFORM etop_internal.cw_move_records(v_run, 'tickets', '{service/tickets}');
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
        SELECT p.priority_name, p.priority_sort, etop_internal.cw_priority(p.priority_name, p.priority_sort, v_opts) AS priority
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
    IF s_other > 0 THEN
        result := result || jsonb_build_object('skipped_unknown_company', s_other);
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION etop.normalize_connectwise(bigint) IS
    'Normalize a ConnectWise sync run''s pages into clients, sites, contacts, agreements, devices and tickets (set-based, idempotent); returns the record counts';
