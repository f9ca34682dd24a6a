-- etop 0.2.0 -> 0.3.0 (ALTER EXTENSION etop UPDATE).  Every row is kept; only
-- functions move and change:
--   * internals move to schema etop_internal (ALTER FUNCTION ... SET SCHEMA keeps
--     their OIDs, privileges, comments and the triggers, views and adapters that
--     use them), so \df etop.* lists only etop's API;
--   * the functions whose bodies call a moved function by name are replaced
--     with the 0.3.0 bodies (the same text as sql/install/);
--   * the extension's schema (normally public) gets the entry point
--     etop_scores(client_id, as_of) the design card calls without a schema.
-- tests/integration/upgrade.sh proves the result equals a fresh 0.3.0 install.
\echo Use "ALTER EXTENSION etop UPDATE TO '0.3.0'" to load this file. \quit

CREATE SCHEMA etop_internal;
COMMENT ON SCHEMA etop_internal IS 'etop: internal functions (not an API; may change in any version)';
REVOKE ALL ON SCHEMA etop_internal FROM PUBLIC;
GRANT USAGE ON SCHEMA etop_internal TO etop_admin, etop_am, etop_reader;

ALTER FUNCTION etop._sync_launch(bigint,integer,boolean) SET SCHEMA etop_internal;
ALTER FUNCTION etop.adapters_guard() SET SCHEMA etop_internal;
ALTER FUNCTION etop.connection_destinations(text,jsonb) SET SCHEMA etop_internal;
ALTER FUNCTION etop.connections_credential_guard() SET SCHEMA etop_internal;
ALTER FUNCTION etop.cron_schedule(text,text,text) SET SCHEMA etop_internal;
ALTER FUNCTION etop.cw_device_type(text,text,jsonb) SET SCHEMA etop_internal;
ALTER FUNCTION etop.cw_move_records(bigint,text,text[]) SET SCHEMA etop_internal;
ALTER FUNCTION etop.cw_priority(text,integer,jsonb) SET SCHEMA etop_internal;
ALTER FUNCTION etop.cw_time_zone(text,jsonb) SET SCHEMA etop_internal;
ALTER FUNCTION etop.demo_load_devices(integer[],integer[],integer[],integer,date) SET SCHEMA etop_internal;
ALTER FUNCTION etop.demo_load_tickets(integer[],integer[],integer[],integer,date) SET SCHEMA etop_internal;
ALTER FUNCTION etop.demo_load_users(integer[],integer[],integer[],text[],integer,date) SET SCHEMA etop_internal;
ALTER FUNCTION etop.demo_pick(text[],double precision) SET SCHEMA etop_internal;
ALTER FUNCTION etop.demo_rand(bigint,integer,integer) SET SCHEMA etop_internal;
ALTER FUNCTION etop.immy_tenant_clients(bigint,jsonb,text[],text[]) SET SCHEMA etop_internal;
ALTER FUNCTION etop.job_claim(interval) SET SCHEMA etop_internal;
ALTER FUNCTION etop.job_fail(uuid,text,boolean,boolean) SET SCHEMA etop_internal;
ALTER FUNCTION etop.job_progress(uuid,integer) SET SCHEMA etop_internal;
ALTER FUNCTION etop.job_store_narrative(uuid,jsonb,jsonb) SET SCHEMA etop_internal;
ALTER FUNCTION etop.json_texts(jsonb) SET SCHEMA etop_internal;
ALTER FUNCTION etop.level_rank(text) SET SCHEMA etop_internal;
ALTER FUNCTION etop.m365_client(bigint,jsonb) SET SCHEMA etop_internal;
ALTER FUNCTION etop.narrative_for_document(jsonb) SET SCHEMA etop_internal;
ALTER FUNCTION etop.on_drop_extension() SET SCHEMA etop_internal;
ALTER FUNCTION etop.qbr_approved_moves_cadence() SET SCHEMA etop_internal;
ALTER FUNCTION etop.qbr_event_emit(text,integer,integer,uuid) SET SCHEMA etop_internal;
ALTER FUNCTION etop.qbr_jobs_as_of() SET SCHEMA etop_internal;
ALTER FUNCTION etop.qbr_jobs_events() SET SCHEMA etop_internal;
ALTER FUNCTION etop.qbr_review(integer,text,text) SET SCHEMA etop_internal;
ALTER FUNCTION etop.qbr_run_job(uuid) SET SCHEMA etop_internal;
ALTER FUNCTION etop.qbr_step(uuid,integer) SET SCHEMA etop_internal;
ALTER FUNCTION etop.qbrs_audit() SET SCHEMA etop_internal;
ALTER FUNCTION etop.qbrs_events() SET SCHEMA etop_internal;
ALTER FUNCTION etop.qbrs_review_guard() SET SCHEMA etop_internal;
ALTER FUNCTION etop.require_pg_cron() SET SCHEMA etop_internal;
ALTER FUNCTION etop.row_is_restored(regclass,bigint) SET SCHEMA etop_internal;
ALTER FUNCTION etop.schedule_list() SET SCHEMA etop_internal;
ALTER FUNCTION etop.sync_is_timestamp(text) SET SCHEMA etop_internal;
ALTER FUNCTION etop.sync_json_path(text,text) SET SCHEMA etop_internal;
ALTER FUNCTION etop.sync_kind_ok(jsonb,text) SET SCHEMA etop_internal;
ALTER FUNCTION etop.sync_page_records(jsonb) SET SCHEMA etop_internal;
ALTER FUNCTION etop.sync_reap() SET SCHEMA etop_internal;
ALTER FUNCTION etop.sync_record_label(jsonb,integer,integer) SET SCHEMA etop_internal;

-- bodies that name a moved function (and demo_seed's search_path)
CREATE OR REPLACE FUNCTION etop.narrative_input(p_client_id integer, p_as_of date DEFAULT CURRENT_DATE)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
                           etop_internal.level_rank(x.likelihood) * etop_internal.level_rank(x.impact) AS rank_score,
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
$function$
;

-- (etop_internal.job_claim: replaced below, in the qbr section)

CREATE OR REPLACE FUNCTION etop_internal.qbr_step(job uuid, step integer)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
        -- stored through etop_internal.job_store_narrative().
        IF j.provider = 'offline' THEN
            UPDATE etop.qbr_jobs SET narrative = etop.narrative_offline(j.input) WHERE id = job;
        ELSIF j.narrative IS NULL THEN
            RAISE EXCEPTION 'QBR job % has no narrative from provider "%"', job, j.provider;
        END IF;

    ELSIF step = 3 THEN
        SELECT jsonb_agg(to_jsonb(x)) INTO v FROM etop.validate_citations(j.narrative, j.client_id) x;
        IF v IS NOT NULL THEN
            UPDATE etop.qbr_jobs SET violations = v, human_review = true WHERE id = job;
            PERFORM etop_internal.job_fail(job, v->0->>'message', retryable => false, human_review => true);
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
$function$
;

CREATE OR REPLACE FUNCTION etop_internal.qbr_run_job(job uuid)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    FOR s IN 1..4 LOOP
        PERFORM etop_internal.job_progress(job, s);
        IF NOT etop_internal.qbr_step(job, s) THEN
            EXIT;
        END IF;
    END LOOP;
    RETURN (SELECT status FROM etop.qbr_jobs WHERE id = job);
END
$function$
;

CREATE OR REPLACE FUNCTION etop_internal.qbrs_audit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF TG_OP = 'INSERT' AND etop_internal.row_is_restored('etop.qbrs_id_seq', NEW.id) THEN
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
$function$
;

CREATE OR REPLACE FUNCTION etop_internal.qbrs_events()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- a job's worker storing its draft (step 4, while the job is active);
        -- not rows a restore copies back (qbrs is restored before qbr_jobs,
        -- which references it), which happened before and have their events
        IF NEW.status = 'draft' AND EXISTS (SELECT 1 FROM etop.qbr_jobs j
                                             WHERE j.id = NEW.job_id AND j.status = 'active') THEN
            PERFORM etop_internal.qbr_event_emit('draft_ready', NEW.client_id, NEW.id, NEW.job_id);
        END IF;
    ELSIF NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('approved', 'rejected') THEN
        PERFORM etop_internal.qbr_event_emit('qbr_' || NEW.status, NEW.client_id, NEW.id, NEW.job_id);
    END IF;
    RETURN NULL;
END
$function$
;

CREATE OR REPLACE FUNCTION etop_internal.qbr_jobs_events()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    -- a job that failed for good; one that needs human review (a hallucination)
    -- says so instead, as that is what someone has to act on
    IF NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed' THEN
        PERFORM etop_internal.qbr_event_emit(CASE WHEN NEW.human_review THEN 'human_review' ELSE 'job_failed' END,
                                    NEW.client_id, NEW.qbr_id, NEW.id);
    END IF;
    RETURN NULL;
END
$function$
;

CREATE OR REPLACE FUNCTION etop.qbr_approve(qbr_id integer, note text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE sql
AS $function$ SELECT etop_internal.qbr_review(qbr_id, 'approved', note) $function$
;

CREATE OR REPLACE FUNCTION etop.qbr_reject(qbr_id integer, reason text)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 'a reason is required to reject a QBR' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN etop_internal.qbr_review(qbr_id, 'rejected', reason);
END
$function$
;

CREATE OR REPLACE FUNCTION etop_internal.connections_credential_guard()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF etop_internal.connection_destinations(NEW.base_url, NEW.options)
           IS DISTINCT FROM etop_internal.connection_destinations(OLD.base_url, OLD.options)
       AND NEW.credentials_set_at IS NOT DISTINCT FROM OLD.credentials_set_at THEN
        RAISE EXCEPTION 'changing where connection "%" sends its credentials needs the credentials again', OLD.name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('It sent them to %s; the change would send them to %s.',
                                  etop_internal.connection_destinations(OLD.base_url, OLD.options),
                                  etop_internal.connection_destinations(NEW.base_url, NEW.options)),
                  HINT = 'Use etop.connection_update(name, base_url => ..., options => ..., credentials => ...).';
    END IF;
    RETURN NEW;
END
$function$
;

-- (etop.sync: replaced below)

-- (etop.sync_wait: replaced below)

CREATE OR REPLACE FUNCTION etop.demo_seed(clients integer, seed integer DEFAULT 1, as_of date DEFAULT CURRENT_DATE)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'etop', 'etop_internal', 'pg_catalog', 'pg_temp'
 SET session_replication_role TO 'origin'
 SET maintenance_work_mem TO '64MB'
 SET deadlock_timeout TO '50ms'
AS $function$
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
$function$
;

CREATE OR REPLACE FUNCTION etop_internal.qbr_approved_moves_cadence()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    met date := coalesce(NEW.reviewed_at::date, current_date);
    previous date;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status = 'approved' THEN
        RETURN NULL;                       -- already approved: nothing new happened
    END IF;
    IF TG_OP = 'INSERT' AND etop_internal.row_is_restored('etop.qbrs_id_seq', NEW.id) THEN
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
$function$
;

CREATE OR REPLACE FUNCTION etop.qbr_generate(client_id integer, options jsonb DEFAULT '{}'::jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
                         'or run the job in this session: SELECT etop_internal.qbr_run_job(id) FROM etop_internal.job_claim();';
    END IF;

    RETURN jsonb_build_object(
        'job_id', job,
        'status', 'queued',
        'message', format('QBR generation started. Poll etop.qbr_status(%L) for status.', job));
END
$function$
;

CREATE OR REPLACE FUNCTION etop_internal.cron_schedule(job_name text, cron_expr text, command text)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    id bigint;
BEGIN
    PERFORM etop_internal.require_pg_cron();
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
$function$
;

-- (etop.schedule_sync: replaced below)

CREATE OR REPLACE FUNCTION etop.schedule_qbr_check(cron_expr text DEFAULT '0 6 * * *'::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    RETURN etop_internal.cron_schedule('etop:qbr-check', cron_expr, 'SELECT etop.run_qbr_check()');
END
$function$
;

CREATE OR REPLACE FUNCTION etop.schedule_score_snapshots(cron_expr text DEFAULT '0 5 * * *'::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    RETURN etop_internal.cron_schedule('etop:score-snapshots', cron_expr, 'SELECT etop.snapshot_scores()');
END
$function$
;

CREATE OR REPLACE FUNCTION etop.unschedule(name text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    full_name text;
    jid bigint;
    removed boolean := false;
BEGIN
    PERFORM etop_internal.require_pg_cron();
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
$function$
;

CREATE OR REPLACE FUNCTION etop_internal.narrative_for_document(n jsonb)
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'executive_summary', (SELECT to_jsonb(string_agg(x, E'\n\n'))
                                FROM jsonb_array_elements_text(etop_internal.json_texts(n->'executive_summary')) x),
        'trends', (SELECT to_jsonb(string_agg(x, E'\n'))
                     FROM jsonb_array_elements_text(etop_internal.json_texts(n->'trends')) x),
        'recommendations', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                                       'title', coalesce(r->>'title', 'Recommendation'),
                                       'description', r->>'description',
                                       'priority', lower(r->>'priority'), 'effort', lower(r->>'effort'),
                                       'cost_range', r->>'cost_range',
                                       'evidence', etop_internal.json_texts(r->'evidence'))))
                              FROM jsonb_array_elements(CASE WHEN jsonb_typeof(n->'recommendations') = 'array'
                                                             THEN n->'recommendations' ELSE '[]' END) r
                             WHERE jsonb_typeof(r) = 'object'),
        'discussion_points', etop_internal.json_texts(n->'discussion_points'),
        'wins', etop_internal.json_texts(n->'wins')))
$function$
;

CREATE OR REPLACE FUNCTION etop.qbr_document(p_client_id integer, p_narrative jsonb DEFAULT NULL::jsonb, p_as_of date DEFAULT CURRENT_DATE, p_draft boolean DEFAULT true)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
        'narrative', etop_internal.narrative_for_document(narrative),
        'risks', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                       'title', r.title, 'business_impact', coalesce(r.business_impact, r.description),
                       'status', initcap(r.status), 'mitigation', r.mitigation,
                       'likelihood', r.likelihood, 'impact', r.impact))
                   ORDER BY etop_internal.level_rank(r.likelihood) * etop_internal.level_rank(r.impact) DESC, r.detected_at DESC, r.title)
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
$function$
;

CREATE OR REPLACE FUNCTION etop.sync_records(p_run bigint, p_endpoints text[])
 RETURNS TABLE(endpoint text, page integer, item integer, rec jsonb)
 LANGUAGE sql
 STABLE
AS $function$
    SELECT p.endpoint, p.page, r.item::integer, r.rec
      FROM etop.sync_pages p
     CROSS JOIN LATERAL jsonb_array_elements(
               coalesce(etop_internal.sync_page_records(p.payload), '[]'::jsonb)) WITH ORDINALITY AS r(rec, item)
     WHERE p.run_id = p_run AND p.endpoint LIKE ANY (p_endpoints)
$function$
;

-- (etop_internal.sync_kind_ok: replaced below)

-- (etop.sync_validate: replaced below)

-- (etop.normalize_connectwise: replaced below)

-- (etop.normalize_immy: replaced below)

-- (etop.normalize_m365: replaced below)


-- The entry point the design card writes without a schema: SELECT etop_scores(42)
-- works in a default database without anyone changing search_path.  Everything
-- etop has lives in schema etop (its API) and etop_internal (its internals);
-- the extension's own schema -- CREATE EXTENSION etop [SCHEMA s], by default
-- the first schema of search_path, normally public -- gets only this entry
-- point: the same C function as etop.etop_scores, so the two cannot drift.
-- Not CREATE OR REPLACE: a function of the same name that a user already has
-- there makes CREATE EXTENSION fail instead of being taken over.
DO $entry$
BEGIN
    IF '@extschema@' = 'etop' THEN
        RETURN;                 -- etop.etop_scores is already there
    END IF;
    IF '@extschema@' <> 'public' THEN
        RAISE WARNING 'etop keeps its tables and functions in schema "etop"; schema "%" gets only the entry point etop_scores()', '@extschema@'
            USING HINT = 'Call etop''s other functions as etop.<name>, or add etop to search_path.';
    END IF;
    EXECUTE format($f$
        CREATE FUNCTION %I.etop_scores(client_id integer, as_of date DEFAULT current_date)
        RETURNS jsonb
        AS 'MODULE_PATHNAME', 'etop_scores_one'
        LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
        SET jit = off$f$, '@extschema@');
    EXECUTE format($f$COMMENT ON FUNCTION %I.etop_scores(integer, date) IS
        'etop: the same as etop.etop_scores (Standards, Risk and Experience scores of one client at as_of)'$f$, '@extschema@');
    EXECUTE format('REVOKE ALL ON FUNCTION %I.etop_scores(integer, date) FROM PUBLIC', '@extschema@');
    EXECUTE format('GRANT EXECUTE ON FUNCTION %I.etop_scores(integer, date) TO etop_admin, etop_am, etop_reader', '@extschema@');
END
$entry$;

-- qbr: a job whose worker is gone (killed, server restart) is claimed again at once and
-- the lost attempt counts as an interruption, not an attempt; queued jobs wake the workers
ALTER TABLE etop.qbr_jobs ADD COLUMN interruptions integer NOT NULL DEFAULT 0;
CREATE FUNCTION etop_internal._pid_alive(pid integer) RETURNS boolean
AS 'MODULE_PATHNAME', 'etop_pid_alive'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION etop_internal._pid_alive(integer) IS
    'internal: whether a server process with this pid exists (job_claim: is an active job''s worker alive)';
REVOKE ALL ON FUNCTION etop_internal._pid_alive(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION etop_internal._pid_alive(integer) TO etop_admin;
CREATE OR REPLACE FUNCTION etop_internal.job_claim(visibility interval DEFAULT NULL::interval)
 RETURNS etop.qbr_jobs
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    j etop.qbr_jobs;
    vis interval := coalesce(visibility,
                             coalesce(current_setting('etop.qbr_visibility_timeout', true), '600')::interval);
BEGIN
  LOOP
    UPDATE etop.qbr_jobs q
       SET status = 'active',
           attempts = q.attempts + CASE WHEN c.orphaned THEN 0 ELSE 1 END,
           interruptions = q.interruptions + CASE WHEN c.orphaned THEN 1 ELSE 0 END,
           worker_pid = pg_backend_pid(),
           started_at = coalesce(q.started_at, now()), locked_until = now() + vis,
           progress = CASE WHEN c.orphaned
                           THEN format('Claimed again: attempt %s was interrupted (step 0/4)', q.attempts)
                           ELSE 'Claimed by worker (step 0/4)' END,
           as_of = coalesce(q.as_of, current_date)    -- options.as_of was read on insert
      FROM (SELECT c.id, (c.status = 'active' AND NOT etop_internal._pid_alive(c.worker_pid)) AS orphaned
              FROM etop.qbr_jobs c
             WHERE c.status IN ('queued', 'retry', 'active')
               AND ((c.status IN ('queued', 'retry') AND c.run_after <= now())
                    OR (c.status = 'active' AND (c.locked_until < now() OR NOT etop_internal._pid_alive(c.worker_pid))))
             ORDER BY c.run_after, c.created_at
             LIMIT 1 FOR UPDATE SKIP LOCKED) c
     WHERE q.id = c.id
    RETURNING q.* INTO j;
    EXIT WHEN j.id IS NULL OR (j.attempts <= j.max_attempts AND j.interruptions < j.max_attempts);
    PERFORM etop_internal.job_fail(j.id,
        CASE WHEN j.interruptions >= j.max_attempts
             THEN format('the job was interrupted %s times (its worker exited or the server restarted during it)',
                         j.interruptions)
             ELSE format('the job''s worker timed out during each of its %s attempts', j.max_attempts) END,
        retryable => false, human_review => true);
  END LOOP;
    RETURN j;               -- all NULL when there is nothing to do
END
$function$
;

CREATE OR REPLACE FUNCTION etop_internal.qbr_jobs_wake()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    PERFORM pg_notify('etop_qbr_jobs', '');
    RETURN NULL;
END
$function$
;
CREATE TRIGGER qbr_jobs_wake AFTER INSERT ON etop.qbr_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION etop_internal.qbr_jobs_wake();
REVOKE ALL ON FUNCTION etop_internal.qbr_jobs_wake() FROM PUBLIC;
-- vendor: vendors that misbehave fail clearly (docs/sync.md, docs/adapters.md).
-- Field kinds int32 (ConnectWise and Immy.Bot ids: 1e30 is no id) and string_id
-- (Graph ids: the number 12345 is no id); ConnectWise records of companies
-- that are not synced are skipped by default (unknown_companies = "skip") and
-- counted as record_counts.skipped_unknown_company.

CREATE OR REPLACE FUNCTION etop_internal.sync_kind_ok(v jsonb, kind text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- v is looked at once (the CASE's test), so with a constant kind the
    -- inlined expression costs one lookup and a comparison or two
    SELECT CASE coalesce(jsonb_typeof(v), 'null')
           WHEN 'null' THEN right(kind, 1) <> '!'
           WHEN 'string' THEN CASE rtrim(kind, '!')
                WHEN 'string' THEN true WHEN 'any' THEN true
                WHEN 'timestamp' THEN etop_internal.sync_is_timestamp(v #>> '{}')
                                      OR right(kind, 1) <> '!' AND (v #>> '{}') = ''
                WHEN 'id' THEN btrim(v #>> '{}') <> ''
                WHEN 'string_id' THEN btrim(v #>> '{}') <> ''
                ELSE false END
           WHEN 'number' THEN CASE rtrim(kind, '!')
                WHEN 'number' THEN true WHEN 'any' THEN true
                WHEN 'int' THEN (v #>> '{}') ~ '^-?\d+$'
                WHEN 'int32' THEN CASE WHEN (v #>> '{}') ~ '^-?\d{1,10}$'
                                       THEN (v #>> '{}')::bigint BETWEEN -2147483648 AND 2147483647
                                       ELSE false END
                WHEN 'id' THEN (v #>> '{}') ~ '^-?\d+$'
                ELSE false END
           WHEN 'boolean' THEN rtrim(kind, '!') IN ('boolean', 'any')
           WHEN 'object' THEN rtrim(kind, '!') IN ('object', 'any')
           WHEN 'array' THEN rtrim(kind, '!') IN ('array', 'any')
           ELSE false END
$$;

COMMENT ON FUNCTION etop_internal.sync_kind_ok(jsonb, text) IS
    'Whether a vendor JSON value has the expected kind (string, number, int, int32, boolean, object, array, timestamp, id, string_id, any; ! = required)';

CREATE OR REPLACE FUNCTION etop.sync_validate(p_run bigint, p_vendor text, p_endpoints text[],
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
       AND etop_internal.sync_page_records(p.payload) IS NULL
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
    SELECT string_agg(format('%s AS v%s', etop_internal.sync_json_path('x', f.key), f.n), ', ' ORDER BY f.n),
           string_agg(format('etop_internal.sync_kind_ok(y.v%s, %L)', f.n, f.value), E'\n AND ' ORDER BY f.n)
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
                             THEN etop_internal.sync_record_label(r.rec #> string_to_array(p_id, '.'), r.page, r.item)
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
            WHERE jsonb_typeof(el.x) <> 'object' OR NOT etop_internal.sync_kind_ok(el.x #> f.path, f.kind)
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
            WHEN 'int' THEN 'an integer' WHEN 'int32' THEN 'an integer from -2147483648 to 2147483647'
            WHEN 'string_id' THEN 'a non-empty string' WHEN 'boolean' THEN 'true or false'
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

CREATE OR REPLACE FUNCTION etop.normalize_connectwise(run_id bigint) RETURNS jsonb
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

-- (etop.normalize_immy: its final body is further below)

-- (etop.normalize_m365: its final body is further below)
-- runs: one run per connection, cancel mid-request, runs left by restarts
-- and crashes, failed scheduled syncs, http_status, detail/hint
-- (src/sync_registry.c, src/sync.c, sql/install/430_sync.sql, 620_schedules.sql,
-- 935_sync_grants.sql; docs/sync.md).
-- runs: the shared-memory registry of sync runs (src/sync_registry.c).  A run
-- has a slot from etop.sync() until its worker exits, however it exits; a
-- crash-restart empties the registry.  So "running" without a slot means
-- the worker is gone -- exact, unlike pg_stat_activity, which a transaction
-- sees as a snapshot taken at its first look.
CREATE FUNCTION etop_internal._sync_alive(run_id bigint) RETURNS boolean
AS 'MODULE_PATHNAME', 'etop_sync_alive'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION etop_internal._sync_alive(bigint) IS
    'internal: whether a sync run has a worker (or one starting), from the shared-memory registry';

CREATE FUNCTION etop_internal._sync_signal_cancel(run_id bigint) RETURNS boolean
AS 'MODULE_PATHNAME', 'etop_sync_signal_cancel'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION etop_internal._sync_signal_cancel(bigint) IS
    'internal: set a sync run''s cancel flag in the registry and wake its worker';

CREATE FUNCTION etop_internal._sync_registry_started() RETURNS timestamptz
AS 'MODULE_PATHNAME', 'etop_sync_registry_started_at'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION etop_internal._sync_registry_started() IS
    'internal: when the server (re)initialised shared memory (start, restart or crash-restart); NULL when etop is not preloaded';

-- Runs whose worker is gone are failed, with the reason: a run older than
-- the registry was cut off by a server restart (fast, immediate or a
-- crash-restart); otherwise its worker ended without recording an outcome.
-- (A worker stopped by SIGTERM -- a fast shutdown, pg_terminate_backend() --
-- records "Sync worker was terminated" itself on its way out.)
CREATE OR REPLACE FUNCTION etop_internal.sync_reap() RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH dead AS (
        UPDATE etop.sync_runs r
           SET status = 'failed', finished_at = clock_timestamp(),
               error = CASE WHEN r.started_at < etop_internal._sync_registry_started() THEN
                   jsonb_build_object('error', 'Server restarted during the sync',
                                      'details', 'The server restarted at '
                                                 || etop_internal._sync_registry_started()
                                                 || ' while the run was running (worker pid ' || r.worker_pid
                                                 || '); no normalized row was changed. Run the sync again.')
                   ELSE
                   jsonb_build_object('error', 'Sync worker exited without recording an outcome',
                                      'details', 'The worker (pid ' || r.worker_pid || ') ended without '
                                                 'recording an outcome; no normalized row was changed. '
                                                 'The server log says why.')
                   END
         WHERE r.status = 'running'
           AND NOT etop_internal._sync_alive(r.id)
        RETURNING 1)
    SELECT count(*)::int FROM dead;
$$;
COMMENT ON FUNCTION etop_internal.sync_reap() IS
    'internal: mark running sync runs without a worker failed, with the reason';

-- At most one run per connection: etop_internal._sync_launch() reserves the
-- connection in the shared-memory registry, atomically, and refuses with
-- object_in_use when it has a run (also for two calls at once).
CREATE OR REPLACE FUNCTION etop.sync(connection text, full_sync boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    run bigint;
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
    PERFORM etop_internal.sync_reap();
    run := nextval('etop.sync_runs_id_seq');
    PERFORM etop_internal._sync_launch(run, c.id, full_sync);
    RETURN run;
END
$$;
COMMENT ON FUNCTION etop.sync(text, boolean) IS
    'Start a sync of a connection in a background worker; returns the run id at once (one running run per connection)';

-- A finished run as etop.sync_wait() returns it: the error object (failed,
-- cancelled) or the counts, with "run_id" and the run's "status".  The
-- vendor's HTTP status is "http_status" (0.2.0 stored it as "status", which
-- the run's status overwrote: moved here for old rows).
CREATE FUNCTION etop_internal.sync_result(r etop.sync_runs) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN r.status = 'succeeded' THEN
                jsonb_build_object('run_id', r.id, 'status', r.status, 'synced_at', r.finished_at,
                                   'record_counts', r.record_counts)
           ELSE
                CASE WHEN coalesce(r.error, '{}') ? 'status' AND NOT r.error ? 'http_status'
                     THEN (r.error - 'status') || jsonb_build_object('http_status', r.error->'status')
                     ELSE coalesce(r.error, '{}') END
                || jsonb_build_object('run_id', r.id, 'status', r.status)
           END;
$$;
COMMENT ON FUNCTION etop_internal.sync_result(etop.sync_runs) IS
    'internal: a finished run as etop.sync_wait() returns it';

-- Wait for a run; returns {"synced_at", "record_counts"} or the error object,
-- with "run_id" and "status" (and "http_status" for a vendor's HTTP error).
-- After the timeout, the run's progress.
CREATE OR REPLACE FUNCTION etop.sync_wait(run bigint, timeout interval DEFAULT '5 min')
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r etop.sync_runs;
    alive boolean;
    deadline timestamptz := clock_timestamp() + timeout;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'etop.sync_wait() needs READ COMMITTED isolation to see the worker''s progress'
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    LOOP
        -- liveness first, then the row: a worker records its outcome before
        -- it leaves the registry, so a row read after "not alive" is final
        alive := etop_internal._sync_alive(run);
        SELECT * INTO r FROM etop.sync_runs x WHERE x.id = run;
        IF FOUND AND r.status = 'running' AND NOT alive THEN
            PERFORM etop_internal.sync_reap();
            SELECT * INTO r FROM etop.sync_runs x WHERE x.id = run;
        END IF;
        IF FOUND AND r.status <> 'running' THEN
            RETURN etop_internal.sync_result(r);
        ELSIF NOT FOUND AND NOT alive THEN
            RAISE EXCEPTION 'sync run % not found', run
                USING ERRCODE = 'no_data_found',
                      DETAIL = 'No run of that id is recorded or has a worker in this database.',
                      HINT = 'etop.sync() returns the run id; etop.sync_runs lists the runs.';
        ELSIF clock_timestamp() > deadline THEN
            RETURN jsonb_build_object('run_id', run, 'status', coalesce(r.status, 'starting'),
                                      'progress', r.progress,
                                      'message', 'still running; call etop.sync_wait() again');
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION etop.sync_now(connection text, full_sync boolean DEFAULT false)
RETURNS jsonb
LANGUAGE sql
AS $$ SELECT etop.sync_wait(etop.sync(connection, full_sync)) $$;
COMMENT ON FUNCTION etop.sync_now(text, boolean) IS 'Sync a connection and wait for the outcome (for scripts)';

-- Sync, wait, and raise an error unless the run succeeded: what the pg_cron
-- jobs of etop.schedule_sync() run, so a failed sync is a failed cron run
-- (cron.job_run_details.status = 'failed', the vendor's error in
-- return_message).  Returns the outcome like sync_now() when it succeeded.
CREATE FUNCTION etop.sync_or_raise(connection text, full_sync boolean DEFAULT false,
                                   timeout interval DEFAULT '1 hour')
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run bigint := etop.sync(connection, full_sync);
    res jsonb := etop.sync_wait(run, timeout);
    detail text;
BEGIN
    IF res->>'status' = 'succeeded' THEN
        RETURN res;
    END IF;
    detail := concat_ws(' ', nullif(concat_ws('; ', res->>'details', res->>'detail', res->>'url',
                                              'HTTP status ' || (res->>'http_status')), ''),
                        format('(run %s; etop.sync_runs has the whole error object.)', run));
    IF res->>'status' = 'cancelled' THEN
        RAISE EXCEPTION 'sync of connection "%" was cancelled (run %)', connection, run
            USING ERRCODE = 'query_canceled', DETAIL = detail;
    ELSIF res->>'status' = 'failed' THEN
        RAISE EXCEPTION 'sync of connection "%" failed: %', connection, res->>'error'
            USING ERRCODE = coalesce(res->>'sqlstate', 'connection_exception'),
                  DETAIL = detail,
                  HINT = coalesce(res->>'hint', 'SELECT error FROM etop.sync_runs WHERE id = ' || run || ';');
    END IF;
    RAISE EXCEPTION 'sync of connection "%" is still running after % (run %)', connection, timeout, run
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = format('SELECT etop.sync_wait(%s); waits for it; etop.sync_cancel(%s) stops it.', run, run);
END
$$;
COMMENT ON FUNCTION etop.sync_or_raise(text, boolean, interval) IS
    'Sync a connection, wait, and raise an error unless the run succeeded (what scheduled syncs run)';

-- Cancel: the flag in the registry (with the worker's latch) stops an HTTP
-- transfer or a retry wait within a second; cancel_requested (the table) is
-- also read between pages.  True if the run was running (or starting).
CREATE OR REPLACE FUNCTION etop.sync_cancel(run bigint)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    signalled boolean := etop_internal._sync_signal_cancel(run);
BEGIN
    UPDATE etop.sync_runs SET cancel_requested = true WHERE id = run AND status = 'running';
    RETURN signalled OR FOUND;
END
$$;
COMMENT ON FUNCTION etop.sync_cancel(bigint) IS
    'Stop a running sync within a second or two (also mid-request); it ends cancelled, nothing of it normalized';

REVOKE ALL ON FUNCTION etop_internal._sync_alive(bigint), etop_internal._sync_signal_cancel(bigint),
                       etop_internal._sync_registry_started(), etop_internal.sync_result(etop.sync_runs),
                       etop.sync_or_raise(text, boolean, interval)
      FROM PUBLIC;
GRANT EXECUTE ON FUNCTION etop_internal._sync_alive(bigint), etop_internal._sync_signal_cancel(bigint),
                          etop_internal._sync_registry_started(), etop_internal.sync_result(etop.sync_runs),
                          etop.sync_or_raise(text, boolean, interval)
      TO etop_admin;

CREATE OR REPLACE FUNCTION etop.schedule_sync(connection text, cron_expr text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM etop_internal.require_pg_cron();
    IF NOT EXISTS (SELECT 1 FROM etop.connections c WHERE c.name = schedule_sync.connection) THEN
        RAISE EXCEPTION 'connection "%" does not exist', schedule_sync.connection
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name, adapter FROM etop.connections lists the connections.';
    END IF;
    -- sync_or_raise: a failed or cancelled sync is a failed cron run
    RETURN etop_internal.cron_schedule('etop:sync:' || schedule_sync.connection, cron_expr,
                              format('SELECT etop.sync_or_raise(%L)', schedule_sync.connection));
END
$$;
COMMENT ON FUNCTION etop.schedule_sync(text, text) IS
    'Sync a connection on a cron schedule (pg_cron job etop:sync:<connection>)';

-- The pg_cron jobs that etop.schedule_sync() made before run SELECT
-- etop.sync_now(...), which returns a failed run as a result, so pg_cron
-- records them as succeeded.  cron.job rows are not members of the
-- extension: when pg_cron is installed here, etop's own sync jobs
-- (etop:sync:..., with exactly the command schedule_sync() wrote) are
-- switched to etop.sync_or_raise(); any other job is left alone.
DO $runs$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        EXECUTE $u$
            UPDATE cron.job
               SET command = 'SELECT etop.sync_or_raise(' || substr(command, length('SELECT etop.sync_now(') + 1)
             WHERE jobname LIKE 'etop:sync:%'
               AND command = format('SELECT etop.sync_now(%L)', substr(jobname, length('etop:sync:') + 1))$u$;
    END IF;
END
$runs$;
-- fidelity: a Microsoft 365 tenant syncs what its licence and the app's
-- permissions allow (issue #18).  Endpoints Graph refuses with 403 are
-- skipped and recorded with the run (etop.sync_skipped(), record_counts
-- "skipped_endpoints"); etop.unavailable_sources keeps, per client, the
-- datasets the tenant does not give, which the scores leave out.
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
SELECT pg_catalog.pg_extension_config_dump('etop.unavailable_sources', '');
ALTER TABLE etop.unavailable_sources ENABLE ROW LEVEL SECURITY;
CREATE POLICY admin_all ON etop.unavailable_sources TO etop_admin USING (true) WITH CHECK (true);
CREATE POLICY reader_all ON etop.unavailable_sources FOR SELECT TO etop_reader USING (true);
CREATE POLICY am_assigned ON etop.unavailable_sources FOR SELECT TO etop_am
    USING (client_id IN (SELECT etop.assigned_client_ids()));
REVOKE ALL ON etop.unavailable_sources FROM PUBLIC;
GRANT SELECT ON etop.unavailable_sources TO etop_reader, etop_am, etop_admin;
GRANT INSERT, UPDATE, DELETE ON etop.unavailable_sources TO etop_admin;
-- The endpoints (or properties) a run went on without, as the adapter
-- recorded them with etop_sync_skip_endpoint(): a JSON array of
-- {"endpoint", "property", "reason": "licence"|"permission", "needs", "status", "code"},
-- [] when none.  A normalization function returns it (as "skipped_endpoints")
-- so that etop.sync_runs.record_counts and etop.sync_now() show it.
CREATE FUNCTION etop.sync_skipped(p_run bigint) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(jsonb_agg(x.e ORDER BY p.page, x.o), '[]'::jsonb)
      FROM etop.sync_pages p
      CROSS JOIN LATERAL jsonb_array_elements(p.payload) WITH ORDINALITY x(e, o)
     WHERE p.run_id = p_run AND p.endpoint = 'etop:skipped'
$$;
COMMENT ON FUNCTION etop.sync_skipped(bigint) IS
    'The endpoints a sync run skipped (licence or permission refusals the adapter recorded), as a JSON array';
REVOKE ALL ON FUNCTION etop.sync_skipped(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION etop.sync_skipped(bigint) TO etop_admin;

-- (etop.normalize_m365: its final body is further below)
COMMENT ON FUNCTION etop.normalize_m365(bigint) IS
    'Normalize a Microsoft 365 (Graph) sync run''s pages into users, m365_secure_score controls and risks for the connection''s client (set-based, idempotent); returns the record counts';

-- fidelity: Immy.Bot results as ImmyBot publishes them (issue #18): enums as
-- integers or names (result, maintenanceType), target assignments without
-- maintenanceDisplayName, ad-hoc runs (assignmentId 0) left out and counted;
-- the adapter reads GET maintenance-actions/latest-for-tenant/{tenantId}.
CREATE OR REPLACE FUNCTION etop.normalize_immy(run_id bigint) RETURNS jsonb
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

-- fidelity: Graph data in the forms Graph sends (issue #18): alerts_v2
-- severity/status "unknown", controlScores' extras given as strings.
-- A number Graph may send as a JSON number or, for controlScores' undeclared
-- extra properties (scoreInPercentage, ...), as a string ("69", "12.5"); NULL
-- when missing, null or not a number (an extra that is not there is missing).
CREATE FUNCTION etop_internal.m365_number(p jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN jsonb_typeof(p) = 'number' THEN (p #>> '{}')::numeric
                WHEN jsonb_typeof(p) = 'string' AND btrim(p #>> '{}') ~ '^[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]{1,3})?$'
                THEN btrim(p #>> '{}')::numeric END
$$;
COMMENT ON FUNCTION etop_internal.m365_number(jsonb) IS
    'A Graph number given as a number or a numeric string, else NULL';
REVOKE ALL ON FUNCTION etop_internal.m365_number(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION etop_internal.m365_number(jsonb) TO etop_admin;

CREATE OR REPLACE FUNCTION etop.normalize_m365(run_id bigint) RETURNS jsonb
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
    v_skipped  jsonb;           -- endpoints the tenant refused (licence, permission)
    no_signins boolean;
    result jsonb;
BEGIN
    v_opts := etop.sync_run_options(v_run);
    v_client := etop_internal.m365_client(v_run, v_opts);

    -- What the tenant did not give, per dataset the scores use: the adapter
    -- skipped the endpoint (or users' signInActivity) on a 403.  Unavailable
    -- datasets are recorded for the client; datasets this run got again are
    -- available again.
    v_skipped := etop.sync_skipped(v_run);
    WITH sk AS (
        SELECT DISTINCT ON (dataset) dataset, e
          FROM (SELECT CASE WHEN e ->> 'endpoint' = 'users' AND e ->> 'property' = 'signInActivity'
                                 THEN 'sign_in_activity'
                            WHEN e ->> 'endpoint' = 'reports/authenticationMethods/userRegistrationDetails' THEN 'mfa'
                            WHEN e ->> 'endpoint' = 'identityProtection/riskyUsers' THEN 'user_risk'
                            WHEN e ->> 'endpoint' IN ('security/secureScores', 'security/secureScoreControlProfiles')
                                 THEN 'secure_score'
                            WHEN e ->> 'endpoint' = 'security/alerts_v2' THEN 'alerts' END AS dataset,
                       e, o
                  FROM jsonb_array_elements(v_skipped) WITH ORDINALITY x(e, o)) y
         WHERE dataset IS NOT NULL
         ORDER BY dataset, o),
    del AS (
        DELETE FROM etop.unavailable_sources t
         WHERE t.client_id = v_client AND t.source = 'm365'
           AND t.dataset NOT IN (SELECT dataset FROM sk))
    INSERT INTO etop.unavailable_sources AS t (client_id, source, dataset, reason, needs, endpoint,
                                               vendor_code, run_id)
    SELECT v_client, 'm365', dataset, e ->> 'reason', e ->> 'needs',
           e ->> 'endpoint' || coalesce(' (' || (e ->> 'property') || ')', ''), e ->> 'code', v_run
      FROM sk
    ON CONFLICT (client_id, source, dataset) DO UPDATE
       SET reason = excluded.reason, needs = excluded.needs, endpoint = excluded.endpoint,
           vendor_code = excluded.vendor_code, run_id = excluded.run_id, checked_at = now(),
           since = CASE WHEN (t.reason, t.needs) IS DISTINCT FROM (excluded.reason, excluded.needs)
                        THEN now() ELSE t.since END;
    no_signins := EXISTS (SELECT FROM jsonb_array_elements(v_skipped) e
                           WHERE e ->> 'endpoint' = 'users' AND e ->> 'property' = 'signInActivity');

    -- Every record is checked before anything is written.
    SELECT duplicates > 0 INTO d_users
      FROM etop.sync_validate(v_run, v_vendor, ep_users, 'id', $j${
        "id": "string_id!", "userPrincipalName": "string!", "displayName": "string", "mail": "string",
        "accountEnabled": "boolean!", "userType": "string", "signInActivity": "object",
        "signInActivity.lastSignInDateTime": "timestamp",
        "signInActivity.lastSuccessfulSignInDateTime": "timestamp"}$j$,
        p_hint => 'The users request needs $select=id,displayName,mail,userPrincipalName,accountEnabled,userType,signInActivity.');
    SELECT duplicates > 0 INTO d_reg
      FROM etop.sync_validate(v_run, v_vendor, ep_reg, 'id', $j${
        "id": "string_id!", "isMfaRegistered": "boolean", "isMfaCapable": "boolean"}$j$);
    SELECT duplicates > 0 INTO d_risky
      FROM etop.sync_validate(v_run, v_vendor, ep_risky, 'id', $j${
        "id": "string_id!", "riskLevel": "string!", "riskState": "string", "isDeleted": "boolean"}$j$);
    SELECT duplicates > 0 INTO d_prof
      FROM etop.sync_validate(v_run, v_vendor, ep_prof, 'id', $j${
        "id": "string_id!", "title": "string", "maxScore": "number!", "controlCategory": "string",
        "deprecated": "boolean", "service": "string", "tier": "string", "rank": "int",
        "actionType": "string", "actionUrl": "string", "implementationCost": "string",
        "userImpact": "string", "threats": "array", "lastModifiedDateTime": "timestamp"}$j$);
    PERFORM etop.sync_validate(v_run, v_vendor, ep_scores, 'id', $j${
        "id": "string_id!", "createdDateTime": "timestamp!", "controlScores": "array",
        "currentScore": "number", "maxScore": "number"}$j$);
    PERFORM etop.sync_validate(v_run, v_vendor, ep_scores, 'id', $j${
        "controlName": "string!", "score": "any", "scoreInPercentage": "any",
        "implementationStatus": "any", "controlCategory": "string", "lastSynced": "timestamp"}$j$,
        p_nested => 'controlScores', p_nested_id => 'controlName');
    -- controlScores' score: a number, or a numeric string ("6", as Graph sends
    -- the undeclared properties); anything else is an error
    PERFORM etop.sync_fail(v_vendor, r.endpoint, r.rec ->> 'id',
                           format('controlScores entry %s: field "score" is %s, expected a number',
                                  e.el ->> 'controlName', e.el -> 'score'))
       FROM etop.sync_records(v_run, ep_scores) r
      CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(r.rec -> 'controlScores') = 'array'
                                                   THEN r.rec -> 'controlScores' ELSE '[]' END) e(el)
      WHERE jsonb_typeof(e.el -> 'score') NOT IN ('number', 'null')
        AND etop_internal.m365_number(e.el -> 'score') IS NULL;
    SELECT duplicates > 0 INTO d_alerts
      FROM etop.sync_validate(v_run, v_vendor, ep_alerts, 'id', $j${
        "id": "string_id!", "title": "string", "description": "string", "severity": "string!",
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
               account_enabled = excluded.account_enabled,
               -- without signInActivity (licence, permission) the last known sign-in stays
               last_sign_in = CASE WHEN no_signins THEN t.last_sign_in ELSE excluded.last_sign_in END,
               risk_level = coalesce(t.risk_level, 'none'), updated_at = now()
         WHERE (t.display_name, t.email, t.upn, t.account_enabled, t.last_sign_in, t.risk_level)
               IS DISTINCT FROM (excluded.display_name, excluded.email, excluded.upn, excluded.account_enabled,
                                 CASE WHEN no_signins THEN t.last_sign_in ELSE excluded.last_sign_in END,
                                 coalesce(t.risk_level, 'none')))
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
               (p.rec ->> 'maxScore')::numeric AS mx, etop_internal.m365_number(cs.el -> 'score') AS sc,
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
                   'scoreInPercentage', to_jsonb(etop_internal.m365_number(el -> 'scoreInPercentage')),
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
               -- alertSeverity: unknown, informational, low, medium, high, unknownFutureValue
               CASE WHEN lower(s.rec ->> 'severity') IN ('informational', 'low', 'medium', 'high')
                    THEN lower(s.rec ->> 'severity')
                    WHEN lower(s.rec ->> 'severity') IN ('unknown', 'unknownfuturevalue') THEN 'informational'
                    ELSE etop.sync_fail(v_vendor, s.endpoint, s.rec ->> 'id',
                                        format('field "severity" is %s, expected unknown, informational, low, medium or high',
                                               s.rec -> 'severity'))::text END AS severity,
               -- alertStatus: unknown, new, inProgress, resolved, unknownFutureValue (not known to be
               -- resolved is open)
               CASE WHEN s.rec ->> 'status' IN ('unknown', 'new', 'inProgress', 'unknownFutureValue') THEN 'open'
                    WHEN s.rec ->> 'status' = 'resolved' THEN 'mitigated'
                    ELSE etop.sync_fail(v_vendor, s.endpoint, s.rec ->> 'id',
                                        format('field "status" is %s, expected unknown, new, inProgress or resolved',
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
    IF jsonb_array_length(v_skipped) > 0 THEN
        result := result || jsonb_build_object('skipped_endpoints', v_skipped);
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION etop.normalize_m365(bigint) IS
    'Normalize a Microsoft 365 (Graph) sync run''s pages into users, m365_secure_score controls and risks for the connection''s client (set-based, idempotent); returns the record counts';
