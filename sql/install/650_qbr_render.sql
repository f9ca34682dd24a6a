-- A client's QBR document (docs/qbr-document.md) gathered from the database,
-- and its PDF.  Sections 1-9 of the spec: narrative, scores with movement, top
-- risks, wins, tickets per month over the last four quarters with SLA and
-- reopen figures, identity/email/endpoint posture, devices aged 4+ years with
-- 12/24/36-month refresh budgets from etop.setting('unit_costs'), the
-- roadmap from etop.recommendations, and the outcome plan.  Segment never
-- changes the content.

-- JSON from a narrative provider, as strings: an array's elements (objects
-- as their text), a string as itself; anything else NULL.
CREATE FUNCTION etop_internal.json_texts(v jsonb) RETURNS jsonb
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
CREATE FUNCTION etop_internal.narrative_for_document(n jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
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
