#!/usr/bin/env bash
# Benchmark of etop.demo_seed(): seconds for 5, 1000 and 5000 clients, the
# median of 3 runs each, both into a freshly created extension and as a
# re-seed over the existing demo data.  Takes several minutes; not run by CI.
#
#   bench/demo_seed.sh [SIZE ...]          (default: 5 1000 5000)
#
# Connects with the usual PG* variables (a superuser is needed) and works in
# its own database, etop_bench (created if missing; the etop extension in it
# is dropped and re-created before every fresh run).  Environment: RUNS
# (default 3), BENCH_DB (default etop_bench), AS_OF (default 2026-01-15).
# Before every timed run it waits for autovacuum to finish with the previous
# run's rows and takes a CHECKPOINT, so runs start from the same state.
set -euo pipefail

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(5 1000 5000)
runs=${RUNS:-3}
db=${BENCH_DB:-etop_bench}
as_of=${AS_OF:-2026-01-15}

psql_db() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }

if [ "$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")" = 0 ]; then
    createdb "$db"
fi

# Let autovacuum finish with the previous run's rows (at most 5 minutes),
# then checkpoint, so every run starts from the same state.
settle() {
    for _ in $(seq 1 300); do
        [ "$(psql_db -c "SELECT count(*) FROM pg_stat_activity
                          WHERE backend_type = 'autovacuum worker' AND datname = current_database()")" = 0 ] && break
        sleep 1
    done
    psql_db -c "CHECKPOINT"
}

fresh_extension() {
    psql_db -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS etop CASCADE" -c "CREATE EXTENSION etop"
}

# Seconds taken by one demo_seed(n), timed in the server.
seed_seconds() {
    psql_db <<SQL
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT etop.demo_seed($1, 1, '$as_of') IS NOT NULL AS seeded \gset
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 2);
SQL
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "etop.demo_seed benchmark: database $db, as_of $as_of, median of $runs runs"
echo "server: $(psql_db -c "SELECT current_setting('server_version') || ', shared_buffers ' || current_setting('shared_buffers')
                                 || ', max_parallel_maintenance_workers ' || current_setting('max_parallel_maintenance_workers')")"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%8s  %14s  %14s  %s\n' clients fresh_s reseed_s "rows (tickets)"
for n in "${sizes[@]}"; do
    fresh=(); reseed=()
    for _ in $(seq 1 "$runs"); do
        fresh_extension
        settle
        fresh+=("$(seed_seconds "$n")")
    done
    for _ in $(seq 1 "$runs"); do
        settle
        reseed+=("$(seed_seconds "$n")")
    done
    tickets=$(psql_db -c "SELECT count(*) FROM etop.tickets")
    printf '%8s  %14s  %14s  %s   fresh: %s  reseed: %s\n' "$n" \
        "$(printf '%s\n' "${fresh[@]}" | median)" "$(printf '%s\n' "${reseed[@]}" | median)" "$tickets" \
        "${fresh[*]}" "${reseed[*]}"
done
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
