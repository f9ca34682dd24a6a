-- The score engine (src/score_formulas.c, src/scores_sql.c; docs/scoring.md).

CREATE FUNCTION etop.etop_scores(client_id integer, as_of date DEFAULT current_date)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'etop_scores_one'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
SET jit = off;          -- the metrics query is short; compiling it costs more than it saves
COMMENT ON FUNCTION etop.etop_scores(integer, date) IS
    'Standards, Risk and Experience scores of one client at as_of, with breakdown, evidence and movement';

CREATE FUNCTION etop.scores_all(as_of date DEFAULT current_date)
RETURNS TABLE (client_id integer, scores jsonb)
AS 'MODULE_PATHNAME', 'etop_scores_all'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 1000
SET jit = off;
COMMENT ON FUNCTION etop.scores_all(date) IS
    'Scores of every client the caller can see, computed set-based (one pass over each table)';

CREATE FUNCTION etop.standards_score(client_id integer, as_of date DEFAULT current_date)
RETURNS jsonb LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED
AS $$ SELECT etop.etop_scores(client_id, as_of)->'standards' $$;
CREATE FUNCTION etop.risk_score(client_id integer, as_of date DEFAULT current_date)
RETURNS jsonb LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED
AS $$ SELECT etop.etop_scores(client_id, as_of)->'risk' $$;
CREATE FUNCTION etop.experience_score(client_id integer, as_of date DEFAULT current_date)
RETURNS jsonb LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED
AS $$ SELECT etop.etop_scores(client_id, as_of)->'experience' $$;

-- "Q4 2025" for a date: the label score_history and QBRs use.
CREATE FUNCTION etop.quarter_label(d date) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT 'Q' || extract(quarter FROM d) || ' ' || extract(year FROM d) $$;

-- Store every visible client's scores for the quarter of as_of (one row per
-- client and quarter: a later snapshot in the same quarter replaces the
-- earlier one).  Returns the number of clients stored.
CREATE FUNCTION etop.snapshot_scores(as_of date DEFAULT current_date)
RETURNS integer LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO etop.score_history AS h
           (client_id, quarter, as_of, formula_version, standards, risk, experience, scores, computed_at)
    SELECT s.client_id, etop.quarter_label(snapshot_scores.as_of), snapshot_scores.as_of,
           s.scores->>'formula_version',
           (s.scores->'standards'->>'score')::numeric, (s.scores->'risk'->>'score')::numeric,
           (s.scores->'experience'->>'score')::numeric, s.scores, now()
      FROM etop.scores_all(snapshot_scores.as_of) s
    ON CONFLICT (client_id, quarter) DO UPDATE
       SET as_of = excluded.as_of, formula_version = excluded.formula_version,
           standards = excluded.standards, risk = excluded.risk,
           experience = excluded.experience, scores = excluded.scores,
           computed_at = excluded.computed_at;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION etop.snapshot_scores(date) IS
    'Store all clients'' scores in etop.score_history for the quarter of as_of (idempotent per client and quarter)';

-- BI views: computed live, for the clients the caller can see.
CREATE VIEW etop.client_scores WITH (security_invoker = true) AS
SELECT c.id AS client_id, c.name, c.segment,
       (s.scores->'standards'->>'score')::numeric  AS standards,
       (s.scores->'risk'->>'score')::numeric       AS risk,
       s.scores->'risk'->>'level'                  AS risk_level,
       (s.scores->'experience'->>'score')::numeric AS experience,
       (s.scores->'standards'->>'computed_at')::timestamptz AS computed_at,
       concat_ws('; ', s.scores->'standards'->'movement'->>'text',
                       s.scores->'risk'->'movement'->>'text',
                       s.scores->'experience'->'movement'->>'text') AS movement,
       (s.scores->'standards'->'movement'->>'delta')::int  AS standards_delta,
       (s.scores->'risk'->'movement'->>'delta')::int       AS risk_delta,
       (s.scores->'experience'->'movement'->>'delta')::int AS experience_delta,
       s.scores->>'formula_version' AS formula_version
  FROM etop.clients c
  JOIN etop.scores_all(current_date) s ON s.client_id = c.id;
COMMENT ON VIEW etop.client_scores IS 'One row per client: the three scores today and their movement vs. last quarter';

CREATE VIEW etop.score_components WITH (security_invoker = true) AS
SELECT c.id AS client_id, c.name, k.kind AS score, b.key AS component,
       (b.value->>'score')::numeric            AS component_score,
       (b.value->>'weight')::numeric           AS weight,
       (b.value->>'effective_weight')::numeric AS effective_weight,
       (b.value->>'missing')::boolean          AS missing,
       b.value->>'level'                       AS level,
       ARRAY(SELECT jsonb_array_elements_text(b.value->'evidence'->'citations')) AS citations,
       b.value->'evidence'                     AS evidence
  FROM etop.clients c
  JOIN etop.scores_all(current_date) s ON s.client_id = c.id
 CROSS JOIN LATERAL (VALUES ('standards'), ('risk'), ('experience')) k(kind)
 CROSS JOIN LATERAL jsonb_each(s.scores->k.kind->'breakdown') b;
COMMENT ON VIEW etop.score_components IS 'One row per client and score component, for drill-down';
