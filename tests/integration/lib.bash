# Shared helpers for integration tests.  Source it; runs inside a cluster
# made by pg_virtualenv (PG* variables set, etop and pg_cron preloaded with
# etop.database_name = cron.database_name = etop_it).
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IT_DB=${ETOP_IT_DB:-etop_it}
FAILS=0
CHECKS=0

q()  { psql -X -q -v ON_ERROR_STOP=1 -d "$IT_DB" -tA "$@"; }
ok() { CHECKS=$((CHECKS + 1)); echo "  ok: $*"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "  FAIL: $*" >&2; }
# expect NAME ACTUAL EXPECTED
expect() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got [$2], expected [$3]"; fi; }
# wait_for SECONDS SQL: until the query returns 't'
wait_for() {
    local deadline=$((SECONDS + $1)) v
    while [ $SECONDS -lt $deadline ]; do
        v=$(q -c "$2" 2>/dev/null || true)
        [ "$v" = "t" ] && return 0
        sleep 0.3
    done
    return 1
}
fresh_db() {
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $IT_DB WITH (FORCE)"
    psql -X -q -d postgres -c "CREATE DATABASE $IT_DB"
    q -c "CREATE EXTENSION etop"
}
drop_db() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $IT_DB WITH (FORCE)" || true; }
# start_mock NAME SCRIPT ARGS...: sets MOCK_PORT, remembers the pid
MOCK_PIDS=()
start_mock() {
    local name=$1 script=$2; shift 2
    local pf; pf=$(mktemp)
    python3 "$TOP/tests/mock/$script" --port 0 --port-file "$pf" "$@" >"/tmp/etop-it-$name.log" 2>&1 &
    MOCK_PIDS+=($!)
    for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.1; done
    MOCK_PORT=$(cat "$pf"); rm -f "$pf"
    [ -n "$MOCK_PORT" ] || { echo "mock $name did not start" >&2; cat "/tmp/etop-it-$name.log" >&2; exit 1; }
}
stop_mocks() { for p in "${MOCK_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
finish() {
    echo "$(basename "$0"): $((CHECKS - FAILS)) passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}
