-- The offline narrative composer: the spec's shape, every claim cited, deterministic.
SET search_path = etop, public;
SELECT demo_seed(5, 1, '2026-01-15') IS NOT NULL AS seeded;
CREATE TEMP TABLE n AS
SELECT c.external_id, c.id, narrative_offline(narrative_input(c.id, '2026-01-15')) AS doc
  FROM clients c WHERE c.source = 'demo';

-- executive_summary: 3 paragraphs; trends; 3-7 recommendations, each with priority,
-- effort, cost range and at least one citation; 3-5 discussion points; wins.
SELECT external_id,
       array_length(regexp_split_to_array(doc->>'executive_summary', E'\n\n'), 1) AS paragraphs,
       length(doc->>'trends') > 50 AS has_trends,
       jsonb_array_length(doc->'recommendations') BETWEEN 3 AND 7 AS recs_3_7,
       jsonb_array_length(doc->'discussion_points') BETWEEN 3 AND 5 AS points_3_5,
       jsonb_array_length(doc->'wins') > 0 AS has_wins,
       NOT EXISTS (SELECT 1 FROM jsonb_array_elements(doc->'recommendations') r
                    WHERE r->>'priority' NOT IN ('high', 'medium', 'low') OR r->>'effort' IS NULL
                       OR r->>'cost_range' IS NULL OR jsonb_array_length(r->'evidence') = 0) AS recs_complete
  FROM n ORDER BY 1;
-- every citation names a row of that client
SELECT external_id, count(v.message) AS violations
  FROM n LEFT JOIN LATERAL validate_citations(n.doc, n.id) v ON true GROUP BY 1 ORDER BY 1;
-- ... and would be a hallucination for any other client
SELECT count(*) > 0 AS other_client_flags
  FROM n a JOIN n b ON a.id <> b.id, validate_citations(a.doc, b.id) v
 WHERE a.external_id = 'DEMO-00001' AND b.external_id = 'DEMO-00002';
-- deterministic
SELECT bool_and(doc = narrative_offline(narrative_input(id, '2026-01-15'))) AS deterministic FROM n;
-- the text itself, for one client
SELECT doc->>'executive_summary' AS executive_summary FROM n WHERE external_id = 'DEMO-00003';
SELECT r->>'title' AS title, r->>'priority' AS priority, r->>'cost_range' AS cost, r->'evidence' AS evidence
  FROM n, jsonb_array_elements(doc->'recommendations') r WHERE external_id = 'DEMO-00003';

-- A client with almost no data still gets an honest narrative.
INSERT INTO clients (source, external_id, name) VALUES ('test', 'empty', 'Empty Client');
SELECT narrative_offline(narrative_input(id, '2026-01-15')) - 'wins' AS empty_narrative
  FROM clients WHERE external_id = 'empty';
-- Bad input is refused clearly.
SELECT narrative_offline('{"period": "Q1 2026"}');
-- Policies without a title (a hand-written input) are not cited, and do not crash the backend.
SELECT r->>'title' AS title, r->'evidence' AS evidence
  FROM jsonb_array_elements(narrative_offline(
         '{"client": {"name": "x"}, "period": "Q1 2026",
           "failing_policies": [{}, {"title": "MFA Enforcement"}, {"maxScore": 3}]}')->'recommendations') r
 WHERE r->>'title' LIKE '%Microsoft 365%';
SELECT jsonb_array_length(narrative_offline(
         '{"client": {"name": "x"}, "period": "Q1 2026", "failing_policies": [{}]}')->'recommendations') AS recommendations;
SELECT narrative_input(-5);

-- Wrong-typed elements are bad input, never a NULL pointer.  As the read-only
-- BI role (which may call narrative_offline): a non-string evidence element
-- killed the backend (escape_json(NULL)); now only the string evidence is kept.
SET ROLE etop_reader;
SELECT narrative_offline('{"client":{"name":"x"},"period":"p",
         "recommendations":[{"title":"t","evidence":[1]}]}')->'recommendations' AS no_string_evidence;
SELECT narrative_offline('{"client":{"name":"x"},"period":"p",
         "recommendations":[{"title":"t","evidence":[1, null, {}, [], "[Ticket #1]"]}]}')->'recommendations'
       AS string_evidence_only;
-- every list and field of the input with the wrong type, or missing
SELECT jsonb_pretty(narrative_offline('{"client":{"name":"x"},"period":"p",
         "top_risks":[1,null,{"title":5},{"mitigation":"m"}],
         "mitigated_risks":[1,{"x":1},{"title":null}],
         "lifecycle":[{"name":[]},{"replacement_cost":"a"},{"age_years":{}}],
         "failing_policies":[1,{"title":{}}], "passing_policies":[1,{},null],
         "top_categories":[{"category":"c"},{"tickets":3},1],
         "recommendations":[{"evidence":["[Ticket #1]"]},{"title":"t","evidence":[null,{},[]]}],
         "scores":{"standards":{"breakdown":[1,2]},"risk":5,
                   "experience":{"breakdown":{"a":{"score":"x"},
                       "sla_performance":{"score":90,"evidence":{"citations":[null]}},
                       "tickets_per_user_trend":{"evidence":{"citations":[1,2,3]}}}}}}') - 'wins')
       AS wrong_types;
SELECT narrative_offline('{"client":{"name":"x"},"period":"p","settings":[1],"top_categories":"x",
         "lifecycle":{},"top_risks":{"title":"x"}}')->'recommendations' AS not_arrays;
-- a planned roadmap item's evidence is capped (NARRATIVE_MAX_EVIDENCE)
SELECT jsonb_array_length(narrative_offline(jsonb_build_object('client', '{"name":"x"}'::jsonb, 'period', 'p',
         'recommendations', jsonb_build_array(jsonb_build_object('title', 't', 'evidence',
             (SELECT jsonb_agg('[Ticket #' || i || ']') FROM generate_series(1, 100000) i)))))
         ->'recommendations'->0->'evidence') AS evidence_kept;
RESET ROLE;
-- the same through the table: a stored NULL evidence element reaches the composer
INSERT INTO clients (source, external_id, name) VALUES ('test', 'nullev', 'Null Evidence Client');
INSERT INTO recommendations (client_id, title, evidence)
SELECT id, 'Planned item', ARRAY[NULL, '[Ticket #1]', NULL]::text[] FROM clients WHERE external_id = 'nullev';
SELECT r->'evidence' AS stored_null_evidence
  FROM clients c, jsonb_array_elements(narrative_offline(narrative_input(c.id, '2026-01-15'))->'recommendations') r
 WHERE c.external_id = 'nullev' AND r->>'title' = 'Planned item';
DELETE FROM recommendations;
DELETE FROM clients;
