#!/usr/bin/env bash
# Score engine benchmark (issue 3).  Seeds etop.demo_seed(CLIENTS) (default
# 1,000: ~100k devices, ~1M tickets) and prints, as medians of RUNS runs
# measured in the same session:
#   floor     one plain count(*) scan of every row the scores read
#             (devices, controls, users, risks, and the tickets of the two quarters)
#   per-call  SELECT etop.etop_scores(id) FROM etop.clients
#   set-based SELECT * FROM etop.scores_all(as_of)
#   single    one client's etop_scores()
# with the ratios per-call/floor and set-based/floor.
# Runs against the cluster named by PG* variables; without them, in a
# throwaway cluster:  pg_virtualenv -o shared_preload_libraries=etop bench/scores_bench.sh
set -euo pipefail
CLIENTS=${CLIENTS:-1000}
RUNS=${RUNS:-5}
DB=${BENCH_DB:-etop_bench}
AS_OF=2026-01-15

psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 || createdb "$DB"
q() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
q -c "CREATE EXTENSION IF NOT EXISTS etop"
have=$(q -tAc "SELECT count(*) FROM etop.clients WHERE source = 'demo'")
if [ "$have" != "$CLIENTS" ]; then
    echo "seeding $CLIENTS demo clients ..."
    q -tAc "SELECT etop.demo_seed($CLIENTS, 1, '$AS_OF')" >/dev/null
    q -c "VACUUM ANALYZE"
fi

q -tA <<SQL
CREATE OR REPLACE FUNCTION pg_temp.median_ms(stmt text, runs int) RETURNS float8
LANGUAGE plpgsql AS \$\$
DECLARE t timestamptz; ms float8[] := '{}'; BEGIN
    EXECUTE stmt;                                   -- warm-up
    FOR i IN 1..runs LOOP
        t := clock_timestamp(); EXECUTE stmt;
        ms := ms || extract(epoch FROM clock_timestamp() - t) * 1000;
    END LOOP;
    RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(ms) x);
END \$\$;
CREATE TEMP TABLE floor_q AS SELECT \$q\$
    SELECT (SELECT count(*) FROM etop.devices) + (SELECT count(*) FROM etop.controls)
         + (SELECT count(*) FROM etop.users) + (SELECT count(*) FROM etop.risks)
         + (SELECT count(*) FROM etop.tickets
             WHERE created_date >= date_trunc('quarter', '$AS_OF'::date) - interval '4 months'
               AND created_date < '$AS_OF'::date + 1) \$q\$ AS q;
CREATE TEMP TABLE m (name text PRIMARY KEY, ms float8);
-- The floor and the set-based query are each measured with the server's
-- parallel query settings and without parallel query, and the faster of the
-- two counts: on a small machine the workers' start-up can cost more than the
-- scan itself, which would flatter the ratio.
INSERT INTO m VALUES ('floor_par', pg_temp.median_ms((SELECT q FROM floor_q), $RUNS)),
                     ('set_par', pg_temp.median_ms('SELECT count(*) FROM etop.scores_all(''$AS_OF'')', $RUNS));
SET max_parallel_workers_per_gather = 0;
INSERT INTO m VALUES ('floor_ser', pg_temp.median_ms((SELECT q FROM floor_q), $RUNS)),
                     ('set_ser', pg_temp.median_ms('SELECT count(*) FROM etop.scores_all(''$AS_OF'')', $RUNS));
-- for information only: the same counts reading the rows themselves (no index)
SET enable_indexonlyscan = off; SET enable_indexscan = off; SET enable_bitmapscan = off;
INSERT INTO m VALUES ('floor_heap', pg_temp.median_ms((SELECT q FROM floor_q), $RUNS));
RESET enable_indexonlyscan; RESET enable_indexscan; RESET enable_bitmapscan;
RESET max_parallel_workers_per_gather;
INSERT INTO m VALUES
    ('per_call', pg_temp.median_ms('SELECT count(etop.etop_scores(id, ''$AS_OF'')) FROM etop.clients', $RUNS)),
    ('single', pg_temp.median_ms('SELECT etop.etop_scores((SELECT min(id) + 7 FROM etop.clients), ''$AS_OF'')', $RUNS * 20));
WITH v AS (SELECT max(ms) FILTER (WHERE name = 'floor_par') AS floor_par, max(ms) FILTER (WHERE name = 'floor_ser') AS floor_ser,
                  max(ms) FILTER (WHERE name = 'set_par') AS set_par, max(ms) FILTER (WHERE name = 'set_ser') AS set_ser,
                  max(ms) FILTER (WHERE name = 'floor_heap') AS floor_heap, max(ms) FILTER (WHERE name = 'per_call') AS per_call,
                  max(ms) FILTER (WHERE name = 'single') AS single FROM m),
     r AS (SELECT v.*, least(floor_par, floor_ser) AS floor, least(set_par, set_ser) AS set_based FROM v)
SELECT format(E'clients: %s\nfloor (plain scan of the rows read):   %s ms   (parallel %s ms, serial %s ms: the faster)\n'
              'etop_scores(id) for every client:      %s ms   ratio %sx floor (target <= 3x)\n'
              'etop.scores_all(as_of), set-based:     %s ms   ratio %sx floor (target <= 3x)   (parallel %s ms, serial %s ms)\n'
              'one client etop_scores(id), median:    %s ms   (target < 5 ms)\n'
              '(for information: the floor''s counts as sequential scans of the rows, no index: %s ms)',
              (SELECT count(*) FROM etop.clients),
              round(floor::numeric, 1), round(floor_par::numeric, 1), round(floor_ser::numeric, 1),
              round(per_call::numeric, 1), round((per_call / floor)::numeric, 2),
              round(set_based::numeric, 1), round((set_based / floor)::numeric, 2),
              round(set_par::numeric, 1), round(set_ser::numeric, 1),
              round(single::numeric, 2), round(floor_heap::numeric, 1))
  FROM r;
SQL
