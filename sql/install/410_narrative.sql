-- Narrative input and the offline composer (docs/qbr.md).
--
-- etop.narrative_input(client_id, as_of) gathers everything a QBR narrative
-- may talk about, for one client, as jsonb: scores with evidence, the top
-- open risks, risks mitigated this quarter, aging devices, failing policies,
-- notable tickets, the busiest ticket categories and the planned
-- recommendations.  The offline composer writes from it; the LLM provider
-- sends it as the prompt's PROVIDED DATA; nothing else reaches either.

-- Rank of low/medium/high (likelihood x impact ordering of risks).
CREATE FUNCTION etop_internal.level_rank(level text) RETURNS integer
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
$$;
COMMENT ON FUNCTION etop.narrative_input(integer, date) IS
    'Everything a QBR narrative may cite for one client, as jsonb (the LLM prompt''s PROVIDED DATA)';

CREATE FUNCTION etop.narrative_offline(input jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'etop_narrative_offline'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION etop.narrative_offline(jsonb) IS
    'Deterministic QBR narrative (no network) from etop.narrative_input(): summary, trends, recommendations, discussion points, wins';
