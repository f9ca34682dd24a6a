-- QBR PDF rendering: etop.qbr_render_doc(jsonb), documents as in docs/qbr-document.md.
-- Only what is deterministic is checked here; tests/integration/qbr_pdf.sh reads
-- the rendered PDFs back with poppler.
CREATE TEMP TABLE qbr_docs (name text PRIMARY KEY, doc jsonb NOT NULL);

-- the least a document may hold: every section still renders (with a sentence)
INSERT INTO qbr_docs VALUES
    ('minimal', '{"client": {"name": "Minimal Client"}, "period": "Q1 2026"}');

-- a full document built in SQL, the way etop.qbr_document() will build it
INSERT INTO qbr_docs
SELECT 'full', jsonb_build_object(
    'version', 1,
    'client', jsonb_build_object('id', 1, 'name', 'Müller & Söhne GmbH', 'segment', 'A',
                                 'industry', 'Manufacturing'),
    'period', 'Q4 2025',
    'as_of', date '2025-12-31',
    'draft', true,
    'msp', jsonb_build_object('name', 'Bright IT Services', 'accent_color', '#1F6F8B',
        'logo_png', 'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR42mOQz+/GihiGlgQAWF1GQcXI0HIAAAAASUVORK5CYII='),
    'scores', jsonb_build_object(
        'standards', jsonb_build_object('score', 83, 'movement', 'Standards +5 vs. Q3 2025'),
        'risk', jsonb_build_object('score', 15, 'movement', 'Risk −4 vs. Q3 2025'),
        'experience', jsonb_build_object('score', 78, 'movement', NULL)),
    'narrative', jsonb_build_object(
        'executive_summary', jsonb_build_array(
            'Standards rose to 83 [Ticket #48213].',
            'The biggest win was the ERP server [Device: SRV-ERP-01].',
            'Next quarter: replace twelve aging workstations [Device: WS-ACCT-07].'),
        'trends', 'Ticket volume fell 15% quarter over quarter [Ticket #48102].',
        'recommendations', (SELECT jsonb_agg(jsonb_build_object(
                'title', 'Recommendation ' || i, 'description', 'Because of [Ticket #' || 48000 + i || '].',
                'priority', (ARRAY['high', 'medium', 'low'])[1 + i % 3], 'effort', 'low',
                'cost_range', '€' || i || ',000', 'evidence', jsonb_build_array('[Ticket #' || 48000 + i || ']')))
            FROM generate_series(1, 8) i),
        'discussion_points', jsonb_build_array('Refresh budget', 'Conditional access timeline')),
    'risks', (SELECT jsonb_agg(jsonb_build_object(
            'title', 'Risk ' || i, 'business_impact', 'Impact ' || i, 'status', 'open',
            'mitigation', 'Mitigation ' || i, 'likelihood', (ARRAY['low', 'medium', 'high'])[1 + i % 3],
            'impact', 'high'))
        FROM generate_series(1, 7) i),
    'wins', jsonb_build_array('MFA for every admin [Policy: Require MFA]', 'Zero ERP downtime'),
    'service', jsonb_build_object(
        'tickets_per_month', (SELECT jsonb_agg(jsonb_build_object(
                'month', to_char(date '2025-01-01' + make_interval(months => m), 'YYYY-MM'),
                'count', 80 + m * 3) ORDER BY m)
            FROM generate_series(0, 11) m),
        'sla_met', 1064, 'sla_total', 1138, 'reopened', 30, 'total', 1138, 'after_hours', 74),
    'security', jsonb_build_object(
        'identity', jsonb_build_object('score', 72, 'summary', 'MFA for 42 of 58 users.',
                                       'citations', jsonb_build_array('[Policy: Require MFA]')),
        'email', jsonb_build_object('score', 88, 'summary', 'DMARC enforced.'),
        'endpoint', NULL),
    'lifecycle', jsonb_build_object(
        'currency', 'EUR',
        'budget', jsonb_build_object('m12', 18400, 'm24', 31200.50, 'm36', NULL),
        'devices', (SELECT jsonb_agg(jsonb_build_object(
                'name', 'WS-' || lpad(i::text, 3, '0'), 'type', 'endpoint', 'model', 'Dell OptiPlex 7050',
                'age_years', 2 + i % 6, 'warranty_expires', date '2023-01-01' + i * 30))
            FROM generate_series(1, 40) i)),
    'roadmap', jsonb_build_object(
        'now', jsonb_build_array(jsonb_build_object('title', 'Replace workstations', 'priority', 'high',
                                                    'cost_range', '€14,000–€18,000')),
        'next', jsonb_build_array(),
        'later', jsonb_build_array(jsonb_build_object('title', 'Retire file server'))),
    'outcome_plan', jsonb_build_array(
        jsonb_build_object('action', 'Approve the refresh budget', 'owner', 'Anna Müller (CFO)',
                           'due_date', date '2026-01-31'),
        jsonb_build_object('action', 'Schedule the firewall update')));

-- the large-dataset scenario: 500 devices and 1,000 tickets
INSERT INTO qbr_docs
SELECT 'large', doc
       || jsonb_build_object('draft', false, 'page_size', 'a4')
       || jsonb_build_object('lifecycle', doc->'lifecycle' || jsonb_build_object('devices',
              (SELECT jsonb_agg(jsonb_build_object('name', 'DEV-' || lpad(i::text, 4, '0'),
                          'type', 'endpoint', 'model', 'Lenovo ThinkCentre M720q',
                          'age_years', 4 + (i % 50) / 10.0, 'warranty_expires', '2024-06-30'))
                 FROM generate_series(1, 500) i)))
       || jsonb_build_object('service', jsonb_build_object(
              'tickets_per_month', (SELECT jsonb_agg(jsonb_build_object(
                      'month', to_char(date '2025-01-01' + make_interval(months => m), 'YYYY-MM'),
                      'count', CASE WHEN m < 11 THEN 83 ELSE 87 END) ORDER BY m)
                  FROM generate_series(0, 11) m),
              'total', 1000, 'sla_met', 942, 'sla_total', 1000, 'reopened', 23, 'after_hours', 81))
  FROM qbr_docs WHERE name = 'full';

-- no roadmap and no recommendations
INSERT INTO qbr_docs
SELECT 'no_roadmap', (doc - 'roadmap') #- '{narrative,recommendations}' FROM qbr_docs WHERE name = 'full';

CREATE TEMP TABLE qbr_pdfs AS
SELECT name, etop.qbr_render_doc(doc) AS pdf FROM qbr_docs;

-- every document is a complete PDF of a plausible size; pages counted from the page tree
SELECT name,
       substring(pdf FROM 1 FOR 5) = '%PDF-'::bytea AS starts_pdf,
       position('%%EOF'::bytea IN substring(pdf FROM length(pdf) - 7)) > 0 AS ends_eof,
       length(pdf) BETWEEN 100000 AND 10 * 1024 * 1024 AS size_ok
  FROM qbr_pdfs ORDER BY name;
SELECT name, CASE name WHEN 'minimal' THEN pages BETWEEN 1 AND 3
                       WHEN 'large'   THEN pages BETWEEN 15 AND 60
                       ELSE pages BETWEEN 3 AND 10 END AS page_count_ok
  FROM (SELECT name, regexp_count(encode(pdf, 'escape'), '/Type /Page\s') AS pages FROM qbr_pdfs) p
 ORDER BY name;
-- more content, more pages
SELECT (SELECT regexp_count(encode(pdf, 'escape'), '/Type /Page\s') FROM qbr_pdfs WHERE name = 'large')
     > (SELECT regexp_count(encode(pdf, 'escape'), '/Type /Page\s') FROM qbr_pdfs WHERE name = 'full')
       AS large_has_more_pages;
-- the large document is A4 (595 x 842 points), the others US Letter (612 x 792)
SELECT name, encode(pdf, 'escape') ~ '/MediaBox \[ 0 0 595' AS a4,
       encode(pdf, 'escape') ~ '/MediaBox \[ 0 0 612 792' AS letter
  FROM qbr_pdfs ORDER BY name;
-- sections are bookmarked: nine outline entries
SELECT name, regexp_count(encode(pdf, 'escape'), '/Type /Outlines') - 1 AS bookmarks
  FROM qbr_pdfs ORDER BY name;

-- the same document always renders to the same bytes
SELECT md5(etop.qbr_render_doc(doc)) = md5(etop.qbr_render_doc(doc)) AS deterministic
  FROM qbr_docs WHERE name = 'full';
-- null is the same as absent, also for array elements; the narrative is passed on as a
-- provider wrote it (etop.narrative_offline() adds "provider" and "wins")
SELECT length(etop.qbr_render_doc('{"client": {"name": "A", "segment": null}, "period": "Q1 2026",
    "risks": [null, {"title": "x", "status": null}], "wins": [null, "w"], "outcome_plan": null,
    "narrative": {"provider": "offline", "executive_summary": "s", "wins": ["w1", "w2"]}}')) > 0
       AS nulls_and_narrative_ok;
-- NULL in, NULL out
SELECT etop.qbr_render_doc(NULL) IS NULL AS null_is_null;

-- bad documents are refused with the path of the offending field
\set VERBOSITY default
SELECT etop.qbr_render_doc('[]');
SELECT etop.qbr_render_doc('{"period": "Q1 2026"}');
SELECT etop.qbr_render_doc('{"client": {"name": "  "}, "period": "Q1 2026"}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026", "risk": []}');
SELECT etop.qbr_render_doc('{"client": {"name": "A", "naem": "B"}, "period": "Q1 2026"}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026",
                             "scores": {"risk": {"score": 140}}}');
-- beyond double precision: the field is named (was numeric_float8's own error)
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026",
                             "lifecycle": {"budget": {"m12": 1e400}}}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026",
                             "scores": {"standards": {"score": "83"}}}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026", "msp": {"accent_color": "blue"}}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026", "risks": {}}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026", "risks": [{"title": "x"}, "y"]}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026",
                             "service": {"tickets_per_month": [{"month": "2025-01", "count": 2.5}]}}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026",
                             "service": {"sla_met": 11, "sla_total": 10}}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026", "page_size": "legal"}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026", "draft": "yes"}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026", "version": 2}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026",
                             "lifecycle": {"devices": [{"name": "x", "age_years": -1}]}}');
-- logos: not base64, not a PNG, a corrupt PNG (libpng's wording varies, so terse)
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026", "msp": {"logo_png": "%%%"}}');
SELECT etop.qbr_render_doc('{"client": {"name": "A"}, "period": "Q1 2026", "msp": {"logo_png": "aGVsbG8gd29ybGQ="}}');
\set VERBOSITY terse
SELECT etop.qbr_render_doc(jsonb_build_object('client', jsonb_build_object('name', 'A'), 'period', 'Q1',
    'msp', jsonb_build_object('logo_png', encode(set_byte(decode(
        'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR42mOQz+/GihiGlgQAWF1GQcXI0HIAAAAASUVORK5CYII=',
        'base64'), 45, 0), 'base64'))));
-- a data: URL prefix is fine
SELECT length(etop.qbr_render_doc(jsonb_build_object('client', jsonb_build_object('name', 'A'), 'period', 'Q1',
    'msp', jsonb_build_object('logo_png', 'data:image/png;base64,' ||
        'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR42mOQz+/GihiGlgQAWF1GQcXI0HIAAAAASUVORK5CYII=')))) > 0
       AS data_url_ok;
\set VERBOSITY default

-- Logos with transparency, interlaced (Adam7) and not: libharu's own PNG reader
-- corrupted the heap on these and aborted the backend ("double free detected"),
-- so etop decodes them itself and hands libharu raw pixels.  As the read-only
-- BI role, which may call qbr_render_doc: every one renders.
SET ROLE etop_reader;
SELECT kind, length(etop.qbr_render_doc(jsonb_build_object(
           'client', jsonb_build_object('name', 'A'), 'period', 'Q1',
           'msp', jsonb_build_object('logo_png', b64)))) > 1000 AS renders
  FROM (VALUES
    ('1x1 RGBA, interlaced', 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAFoEvQfAAAADUlEQVR4nGP4z8DQAAAEgQGALFXOsAAAAABJRU5ErkJggg=='),
    ('grey+alpha, interlaced', 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAADCAQAAAGLJk2iAAAAH0lEQVR4nAXBQQEAAAABsWulhn4+mrLB6EAVHhbEaQ5gcQhEk+1RMwAAAABJRU5ErkJggg=='),
    ('RGBA, interlaced', 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAADCAYAAAEhL4UpAAAAJklEQVR4nBXHQREAAAzCsEpEBEKQgtSNR3oAOHShTh/a0xZy9PoOCCkNpd0wp+QAAAAASUVORK5CYII='),
    ('RGB+tRNS, interlaced', 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAADCAIAAAGuTRJ+AAAABnRSTlMAAAAAAGQkeaLQAAAAIklEQVR4nA3GMQ0AAAyEQCQiAmEvtR3IAcQ+1hb++mLa7ACHrQklLvgTiwAAAABJRU5ErkJggg=='),
    ('palette+tRNS, interlaced', 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAADCAMAAAEW8XUbAAAABlBMVEX/AAAAAP9sof2OAAAAAnRSTlMAyOMsh7oAAAAOSURBVHicY2CAAEYIBAAAHwAFEUhinAAAAABJRU5ErkJggg=='),
    ('16-bit RGBA, interlaced', 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAADEAYAAAFxv1lqAAAAKUlEQVR4nGNgAIIUhgYGhgUwBogJYiyA0gwBMJkAmAiICWIEQOkFUBoA9oUNpcleVcoAAAAASUVORK5CYII='),
    ('RGB, not interlaced', 'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR42mOQz+/GihiGlgQAWF1GQcXI0HIAAAAASUVORK5CYII=')
  ) AS logos(kind, b64);
-- the logo's transparency becomes a soft mask in the PDF
SELECT position(convert_to('/SMask', 'UTF8') in etop.qbr_render_doc(jsonb_build_object(
           'client', jsonb_build_object('name', 'A'), 'period', 'Q1', 'msp', jsonb_build_object('logo_png',
           'iVBORw0KGgoAAAANSUhEUgAAAAMAAAADCAYAAAEhL4UpAAAAJklEQVR4nBXHQREAAAzCsEpEBEKQgtSNR3oAOHShTh/a0xZy9PoOCCkNpd0wp+QAAAAASUVORK5CYII=')))) > 0
       AS has_soft_mask;
RESET ROLE;

-- documented limits (docs/qbr-document.md): a text of at most 256 KB, an array of
-- at most 100,000 elements; past them a clear error, before any rendering
SELECT etop.qbr_render_doc(jsonb_build_object('client', '{"name":"x"}'::jsonb, 'period', 'p',
   'narrative', jsonb_build_object('trends', repeat('a', 262145))));
SELECT etop.qbr_render_doc(jsonb_build_object('client', '{"name":"x"}'::jsonb, 'period', 'p',
   'narrative', jsonb_build_object('recommendations', jsonb_build_array(jsonb_build_object('title', 't',
      'evidence', (SELECT jsonb_agg('e'::text) FROM generate_series(1, 100001)))))));
-- just under them it renders: one word of 256 KB is broken over many lines in linear
-- time (it took 13 s per MB), and 100,000 evidence strings are joined in linear time
SELECT length(etop.qbr_render_doc(jsonb_build_object('client', '{"name":"x"}'::jsonb, 'period', 'p',
   'narrative', jsonb_build_object('trends', repeat('a', 262144))))) > 0 AS long_word_renders;
SELECT length(etop.qbr_render_doc(jsonb_build_object('client', '{"name":"x"}'::jsonb, 'period', 'p',
   'narrative', jsonb_build_object('recommendations', jsonb_build_array(jsonb_build_object('title', 't',
      'evidence', (SELECT jsonb_agg('e' || i) FROM generate_series(1, 100000) i))))))) > 0
       AS many_evidence_renders;

-- who may render: the three etop roles, not PUBLIC
SELECT r, has_function_privilege(r, 'etop.qbr_render_doc(jsonb)', 'EXECUTE') AS can_render
  FROM unnest(ARRAY['etop_admin', 'etop_am', 'etop_reader', 'public']) r ORDER BY r;
