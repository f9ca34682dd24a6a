-- Median end-to-end time of one QBR (offline narrative, citations, PDF), run
-- in this session with etop.qbr_run_job(): psql -d <db with etop.demo_seed> -f bench/qbr_e2e.sql
-- (The background worker adds at most etop.qbr_poll_interval on top.)
CREATE TEMP TABLE t (ms float8);
DO $$
DECLARE j uuid; t0 timestamptz;
BEGIN
  FOR i IN 1..5 LOOP
    t0 := clock_timestamp();
    j := (etop.qbr_generate((SELECT min(id) FROM etop.clients) + i, '{"as_of": "2026-01-15"}')->>'job_id')::uuid;
    PERFORM etop.qbr_run_job(id) FROM etop.job_claim() WHERE id = j;
    INSERT INTO t VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000);
  END LOOP;
END $$;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS median_ms,
       round(min(ms)::numeric, 1) AS min_ms, round(max(ms)::numeric, 1) AS max_ms FROM t;
