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
CREATE FUNCTION etop_internal.immy_tenant_clients(p_run bigint, p_opts jsonb,
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
COMMENT ON FUNCTION etop_internal.immy_tenant_clients(bigint, jsonb, text[], text[]) IS
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
        "id": "int32!", "name": "string", "isMsp": "boolean", "msp": "boolean"}$j$);
    SELECT duplicates > 0 INTO d_comp
      FROM etop.sync_validate(v_run, v_vendor, ep_comp, 'id', $j${
        "id": "int32!", "tenantId": "int32!", "tenantName": "string", "computerName": "string", "name": "string",
        "serialNumber": "string", "manufacturer": "string", "model": "string", "operatingSystem": "string",
        "chassisTypes": "array", "domainRole": "int", "lastProviderAgentEventDateUtc": "timestamp",
        "updatedDate": "timestamp", "deletedAt": "timestamp"}$j$);
    SELECT duplicates > 0 INTO d_base
      FROM etop.sync_validate(v_run, v_vendor, ep_base, 'id', $j${
        "id": "int32!", "maintenanceDisplayName": "string", "maintenanceIdentifier": "string",
        "maintenanceType": "any", "targetText": "string", "notes": "string", "updatedDateUTC": "timestamp"}$j$);
    PERFORM etop.sync_validate(v_run, v_vendor, ep_act, 'id', $j${
        "id": "int32!", "computerId": "int32!", "tenantId": "int32", "tenantName": "string", "assignmentId": "int32",
        "maintenanceDisplayName": "string", "result": "any", "resultName": "string",
        "maintenanceTaskGetResult": "string", "startTime": "timestamp", "endTime": "timestamp",
        "createdDateUTC": "timestamp", "updatedDateUTC": "timestamp", "detectedVersionString": "string"}$j$);

    v_tenants := etop_internal.immy_tenant_clients(v_run, v_opts, ep_comp, ep_act);
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
         WHERE jsonb_typeof(r.rec -> 'assignmentId') = 'number' AND r.rec ->> 'assignmentId' <> '0'
         ORDER BY r.rec ->> 'computerId', r.rec ->> 'assignmentId',
                  coalesce(etop.sync_ts(r.rec ->> 'endTime'), etop.sync_ts(r.rec ->> 'updatedDateUTC'),
                           etop.sync_ts(r.rec ->> 'createdDateUTC'), etop.sync_ts(r.rec ->> 'startTime')) DESC NULLS LAST,
                  (r.rec ->> 'id')::bigint DESC),
    res AS (
        SELECT act.*, d.id AS device_id,
               coalesce(d.client_id, (v_tmap ->> (act.rec ->> 'tenantId'))::int) AS client_id,
               -- result: MaintenanceActionResult as an integer (1 Success, 2 Failed) or its name
               CASE WHEN lower(coalesce(act.rec ->> 'resultName', act.rec ->> 'result')) IN ('failed', 'failure', 'error', '2')
                      OR lower(act.rec ->> 'maintenanceTaskGetResult') IN ('noncompliant', 'non-compliant', 'non compliant')
                    THEN 'fail'
                    WHEN lower(coalesce(act.rec ->> 'resultName', act.rec ->> 'result')) IN ('success', 'succeeded', 'compliant', '1')
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
      FROM etop.sync_records(v_run, ep_act) r
     WHERE jsonb_typeof(r.rec -> 'assignmentId') IS DISTINCT FROM 'number'
        OR r.rec ->> 'assignmentId' = '0';   -- ad-hoc runs (no deployment) are no baseline result

    -- What the results say about the device: an EDR deployment (edr_pattern)
    -- that succeeded means EDR installed and healthy, one that failed means
    -- unhealthy (installed when a version was detected); an update deployment
    -- (patch_pattern) that succeeded is the device's last patch time.
    WITH act AS (
        SELECT DISTINCT ON (r.rec ->> 'computerId', r.rec ->> 'assignmentId', r.rec ->> 'maintenanceDisplayName')
               r.rec, coalesce(etop.sync_ts(r.rec ->> 'endTime'), etop.sync_ts(r.rec ->> 'updatedDateUTC'),
                               etop.sync_ts(r.rec ->> 'createdDateUTC')) AS at,
               CASE lower(coalesce(r.rec ->> 'resultName', r.rec ->> 'result'))
                    WHEN '1' THEN 'success' WHEN '2' THEN 'failed'
                    ELSE lower(coalesce(r.rec ->> 'resultName', r.rec ->> 'result')) END AS result
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
