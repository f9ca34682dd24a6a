#!/usr/bin/env bash
# Follows README.md's "Installing into an existing cluster" on a fresh cluster,
# as written: the commands are taken from the README itself (createdb, the
# postgresql.conf block, the restart, the psql lines), run against a new
# Debian cluster made with pg_createcluster, and the server log must stay
# quiet (no WARNING, ERROR, FATAL or PANIC from the first start to the end).
# etop must already be installed (make install); needs root, as the README does.
# Prints "readme: N passed, M failed".
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
README=$TOP/README.md
CLUSTER=etop_readme_$$
PASS=0; FAIL=0
ok()  { echo "  ok: $1"; PASS=$((PASS + 1)); }
bad() { echo "  FAILED: $1" >&2; FAIL=$((FAIL + 1)); }
finish() { echo "readme: $PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit; }

if [ "$(id -u)" -ne 0 ]; then
    bad "needs root (pg_createcluster, as the README's install steps)"; finish
fi
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() { pg_dropcluster --stop 15 "$CLUSTER" >/dev/null 2>&1 || true; }
trap cleanup EXIT

section=$(sed -n '/^## Installing into an existing cluster/,/^## /p' "$README")
conf_block=$(printf '%s\n' "$section" | sed -n '/^    shared_preload_libraries/,/^    max_worker_processes/p' | sed 's/^    //')
createdb_cmd=$(printf '%s\n' "$section" | grep -E '^    sudo -u postgres createdb ' | sed 's/^    //; s/ *#.*$//')
restart=$(printf '%s\n' "$section" | grep -o 'pg_ctlcluster 15 main restart' | head -1)
mapfile -t psql_cmds < <(printf '%s\n' "$section" | grep -E '^    sudo -u postgres psql ' | sed 's/^    //; s/ *# .*$//')
[ -n "$conf_block" ] && [ -n "$createdb_cmd" ] && [ -n "$restart" ] && [ "${#psql_cmds[@]}" -ge 3 ] \
    && ok "the README has the createdb, postgresql.conf, restart and ${#psql_cmds[@]} psql steps" \
    || { bad "the README's install section lost a step (createdb / conf / restart / psql)"; finish; }

echo "-- a fresh cluster $CLUSTER on port $PORT"
pg_createcluster 15 "$CLUSTER" -p "$PORT" >/dev/null || { bad "pg_createcluster"; finish; }
LOG=/var/log/postgresql/postgresql-15-$CLUSTER.log
pg_ctlcluster 15 "$CLUSTER" start || { bad "the fresh cluster starts"; finish; }
# the README's commands as root, with the README's "sudo -u postgres" done by
# runuser (sudo may not be installed) and this cluster's port
as_readme() { local c=${1#sudo -u postgres }; PGPORT=$PORT runuser -u postgres -- bash -c "$c"; }

as_readme "$createdb_cmd" && ok "step: $createdb_cmd" || bad "step: $createdb_cmd"
printf '%s\n' "$conf_block" >> "/etc/postgresql/15/$CLUSTER/postgresql.conf"
${restart/main/$CLUSTER} && ok "step: postgresql.conf block and ${restart}" || bad "step: restart"
out=""
for c in "${psql_cmds[@]}"; do
    if o=$(as_readme "$c" 2>&1); then ok "step: $c"; out+="$o"$'\n'; else bad "step: $c: $o"; fi
done
grep -q '"preloaded": true' <<< "$out" && grep -q '"workers_database": "etop"' <<< "$out" \
    && ok "build_info says preloaded and workers_database etop" || bad "build_info: $out"
grep -q '"standards"' <<< "$out" && ok "SELECT etop_scores(1) works as written" || bad "etop_scores(1) without a schema"

# the workers start (QBR worker, pg_cron's scheduler) and the log stays quiet
for _ in $(seq 1 30); do grep -q 'etop: QBR worker 1 started in database "etop"' "$LOG" && break; sleep 1; done
grep -q 'etop: QBR worker 1 started in database "etop"' "$LOG" && ok "etop's QBR worker started" || bad "no QBR worker in the log"
grep -q 'pg_cron scheduler started' "$LOG" && ok "pg_cron's scheduler started" || bad "no pg_cron scheduler in the log"
sleep 3
noisy=$(grep -E '(WARNING|ERROR|FATAL|PANIC):' "$LOG" || true)
[ -z "$noisy" ] && ok "the server log is quiet ($(wc -l < "$LOG") lines, no WARNING/ERROR/FATAL/PANIC)" \
    || bad "the server log is not quiet:"$'\n'"$noisy"
finish
