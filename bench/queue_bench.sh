#!/usr/bin/env bash
# QBR queue and pipeline benchmark (issue 5, "Speed").  Not run by CI.
#
#  1. Queue throughput: enqueue, claim and complete JOBS (10,000) no-op jobs
#     with etop's queue (etop.qbr_generate -> etop_internal.job_claim() -> UPDATE to
#     'completed') and with pg-boss (send -> fetch -> complete), in the same
#     cluster (databases ETOP_DB and BOSS_DB), with 1 and 4 workers, RUNS runs
#     each, and print the medians and the ratio etop jobs/s / pg-boss jobs/s.
#     The Node.js side is bench/queue/bench.js (its header says exactly what
#     each side runs).
#  2. One QBR end to end with the offline narrative for a client of
#     etop.demo_seed: qbr_generate -> SELECT etop_internal.qbr_run_job(id) FROM
#     etop_internal.job_claim() -> completed draft, median of E2E_RUNS (5), plus the
#     median of each step when run one by one as the background worker does.
#
# Usage
#   PG* variables set (a running cluster with etop installed, e.g. the one of
#   scripts/private-pg.sh):      bench/queue_bench.sh
#   a fresh Debian 12 machine, no PG* variables: bench/queue_bench.sh
#     installs what the README's setup installs (scripts/setup-debian.sh),
#     builds and installs etop, and runs itself in a throwaway cluster
#     (pg_virtualenv).
# It installs Node.js and npm from Debian when `node` is missing, and pg-boss
# and pg with `npm ci` in bench/queue.  It creates the databases ETOP_DB and
# BOSS_DB, and drops and recreates them on later runs (only databases it made
# itself: it marks them with a comment).  ETOP_DB must not be the database of
# etop's background workers (etop.database_name): they would claim the jobs.
#
# Settings (environment): JOBS=10000 WORKERS=1,4 RUNS=3 E2E_RUNS=5
#   ETOP_DB=etop_queue_bench BOSS_DB=pgboss_bench ENQUEUE=generate|insert
#   SEED_CLIENTS=1000 (etop.demo_seed's client count in ETOP_DB)
#   AS_OF=2026-01-15 (the demo data's date)  PGOPTIONS (applies to both sides)
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-10000}
WORKERS=${WORKERS:-1,4}
RUNS=${RUNS:-3}
E2E_RUNS=${E2E_RUNS:-5}
ETOP_DB=${ETOP_DB:-etop_queue_bench}
BOSS_DB=${BOSS_DB:-pgboss_bench}
AS_OF=${AS_OF:-2026-01-15}
SEED_CLIENTS=${SEED_CLIENTS:-1000}
export JOBS WORKERS RUNS ETOP_DB BOSS_DB ENQUEUE
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

# ---------- a fresh machine: set up and run in a throwaway cluster ----------
if [ -z "${ETOP_QUEUE_BENCH_IN_CLUSTER:-}" ] && [ -z "${PGHOST:-}${PGPORT:-}${PGSERVICE:-}" ]; then
    echo "== no PG* variables: setting up this machine and a throwaway cluster"
    scripts/setup-debian.sh
    make -s
    $SUDO make -s install
    export ETOP_QUEUE_BENCH_IN_CLUSTER=1
    exec pg_virtualenv -v 15 -o "shared_buffers=512MB" "$0" "$@"
fi

# ---------- Node.js, pg-boss and pg ----------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "== installing Node.js and npm from Debian"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || { echo "queue_bench.sh: Node.js >= 18 needed, found $(node --version)" >&2; exit 1; }
if ! cmp -s bench/queue/package-lock.json bench/queue/node_modules/.bench-installed-lock 2>/dev/null; then
    echo "== npm ci (pg-boss, pg) in bench/queue"
    (cd bench/queue && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.bench-installed-lock)
fi

# ---------- databases ----------
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
MARK='etop queue benchmark (bench/queue_bench.sh): dropped and recreated by it'
worker_db=$(q -d postgres -tAc "SELECT current_setting('etop.database_name', true)")
if [ "$worker_db" = "$ETOP_DB" ]; then
    echo "queue_bench.sh: ETOP_DB=$ETOP_DB is the database etop's background workers use" \
         "(etop.database_name); they would claim the benchmark's jobs.  Choose another ETOP_DB." >&2
    exit 1
fi
fresh_db() {
    local db=$1 comment
    if q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
        comment=$(q -d postgres -tAc "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$db'")
        if [ "$comment" != "$MARK" ]; then
            echo "queue_bench.sh: database $db exists and was not made by this benchmark; set ETOP_DB/BOSS_DB" >&2
            exit 1
        fi
        q -d postgres -c "DROP DATABASE \"$db\""
    fi
    q -d postgres -c "CREATE DATABASE \"$db\"" -c "COMMENT ON DATABASE \"$db\" IS '$MARK'"
}
echo "== creating databases $ETOP_DB (etop, demo_seed($SEED_CLIENTS)) and $BOSS_DB (pg-boss)"
fresh_db "$ETOP_DB"
fresh_db "$BOSS_DB"
q -d "$ETOP_DB" -c "CREATE EXTENSION etop" \
  -c "SELECT etop.demo_seed($SEED_CLIENTS, 1, '$AS_OF') IS NOT NULL AS seeded" -o /dev/null
q -d "$ETOP_DB" -c "VACUUM ANALYZE"

q -d postgres -tAc "SELECT 'server: ' || version()"
echo "cores: $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------- 1. queue throughput ----------
echo
node bench/queue/bench.js

# ---------- 2. one QBR end to end ----------
echo
client=$(q -d "$ETOP_DB" -tAc "SELECT id FROM etop.clients WHERE external_id = 'DEMO-00001'")
q -d "$ETOP_DB" -tAc "DELETE FROM etop.qbr_jobs"
{
    echo "CREATE TEMP TABLE e2e (run int, secs float8);"
    echo "CREATE TEMP TABLE steps (run int, step text, secs float8);"
    echo "\\set client $client"
    # (a) as the brief says: generate, then claim and run every step in one statement
    for i in $(seq "$E2E_RUNS"); do
        cat <<SQL
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
SELECT etop.qbr_generate(:client, '{"as_of": "$AS_OF"}')->>'job_id' AS job \\gset
SELECT id = :'job' AS mine, etop_internal.qbr_run_job(id) AS status FROM etop_internal.job_claim() \\gset
INSERT INTO e2e SELECT $i, extract(epoch FROM clock_timestamp()) - :t0
 WHERE :'mine' AND :'status' = 'completed'
   AND (SELECT status = 'draft' FROM etop.qbrs WHERE job_id = :'job');
SQL
    done
    # (b) the same, one transaction per step as the background worker runs it
    for i in $(seq "$E2E_RUNS"); do
        cat <<SQL
SELECT extract(epoch FROM clock_timestamp()) AS t \\gset
SELECT etop.qbr_generate(:client, '{"as_of": "$AS_OF"}')->>'job_id' AS job \\gset
INSERT INTO steps SELECT $i, '0a enqueue (qbr_generate)', extract(epoch FROM clock_timestamp()) - :t;
SELECT extract(epoch FROM clock_timestamp()) AS t \\gset
SELECT id = :'job' AS mine FROM etop_internal.job_claim() \\gset
INSERT INTO steps SELECT $i, '0b claim (job_claim)', extract(epoch FROM clock_timestamp()) - :t WHERE :'mine';
SQL
        s=1
        for name in "1 scores and evidence (narrative_input)" "2 offline narrative" "3 citation validation" "4 store draft"; do
            cat <<SQL
SELECT extract(epoch FROM clock_timestamp()) AS t \\gset
SELECT etop_internal.job_progress(:'job', $s), etop_internal.qbr_step(:'job', $s) \\gset x_
INSERT INTO steps SELECT $i, '$name', extract(epoch FROM clock_timestamp()) - :t;
SQL
            s=$((s + 1))
        done
        echo "SELECT status = 'completed' AS ok FROM etop.qbr_jobs WHERE id = :'job' \\gset"
        printf '%s\n' '\if :ok' '\else' "\\echo 'step-by-step job did not complete'" '\quit' '\endif'
    done
    cat <<SQL
SELECT format('client %s (%s): %s devices, %s tickets, %s risks', c.id, c.name,
              (SELECT count(*) FROM etop.devices d WHERE d.client_id = c.id),
              (SELECT count(*) FROM etop.tickets t WHERE t.client_id = c.id),
              (SELECT count(*) FROM etop.risks r WHERE r.client_id = c.id))
  FROM etop.clients c WHERE c.id = :client;
SELECT format('QBR end to end (qbr_generate -> completed draft, offline narrative, %s), median of %s: %s s (runs: %s; spec ceiling 60 s)',
              CASE WHEN to_regprocedure('etop.qbr_render(integer,jsonb,date)') IS NULL
                   THEN 'no PDF: etop.qbr_render is not installed' ELSE 'with the PDF' END,
              count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY secs)::numeric, 3),
              string_agg(round(secs::numeric, 3)::text, ', ' ORDER BY run))
  FROM e2e HAVING count(*) = $E2E_RUNS;
SELECT 'step by step, one transaction each (medians):';
SELECT format('  %-40s %8s ms', step, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) * 1000)::numeric, 1))
  FROM steps GROUP BY step ORDER BY step;
SQL
} > "${TMPDIR:-/tmp}/queue_bench_e2e.$$.sql"
trap 'rm -f "${TMPDIR:-/tmp}/queue_bench_e2e.$$.sql"' EXIT
out=$(q -d "$ETOP_DB" -tA -f "${TMPDIR:-/tmp}/queue_bench_e2e.$$.sql")
echo "$out" | grep -v '^$'
echo "$out" | grep -q '^QBR end to end' || { echo "queue_bench.sh: a QBR run did not complete" >&2; exit 1; }
