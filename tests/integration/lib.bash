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
    ${ETOP_PYTHON:-/usr/bin/python3} "$TOP/tests/mock/$script" --port 0 --port-file "$pf" "$@" >"/tmp/etop-it-$name.log" 2>&1 &
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

# The three vendor mocks with the demo MSP's data, and etop connections to them.
start_vendor_mocks() {  # extra args go to every mock (e.g. --now ...)
    start_mock cw cw_mock.py --max-seconds 900 "$@"; CW_PORT=$MOCK_PORT
    start_mock immy immy_mock.py --max-seconds 900 "$@"; IMMY_PORT=$MOCK_PORT
    start_mock graph graph_mock.py --max-seconds 900 "$@"; GRAPH_PORT=$MOCK_PORT
}
create_vendor_connections() {  # fast HTTP retry options, for tests and the demo
    local fast='"retry_base_ms": 100, "retry_after_max_ms": 2000, "timeout_ms": 10000'
    q -c "SELECT etop.connection_create('connectwise', 'connectwise',
            'http://127.0.0.1:$CW_PORT/v4_6_release/apis/3.0',
            '{\"company_id\": \"etopdemo\", \"public_key\": \"etopPublicKey\",
              \"private_key\": \"etopPrivateKey\", \"client_id\": \"5e1a7e1c-0000-4000-8000-00000000e70b\"}',
            '{$fast}')" >/dev/null
    q -c "SELECT etop.connection_create('immy', 'immy', 'http://127.0.0.1:$IMMY_PORT',
            '{\"tenant_id\": \"3c9e1f7a-2b4d-4e6f-8a1c-5d7e9f0a1b2c\",
              \"client_id\": \"0b7a6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d\", \"client_secret\": \"mock-immy-secret\"}',
            '{\"authority\": \"http://127.0.0.1:$IMMY_PORT\", \"scope\": \"https://etopdemo.immy.bot/.default\", $fast}')" >/dev/null
    q -c "SELECT etop.connection_create('m365', 'm365', 'http://127.0.0.1:$GRAPH_PORT',
            '{\"tenant_id\": \"8f4d2c1a-5b6e-4f70-9a81-2c3d4e5f6a7b\",
              \"client_id\": \"11111111-2222-4333-8444-555555555555\", \"client_secret\": \"mock-graph-secret\"}',
            '{\"authority\": \"http://127.0.0.1:$GRAPH_PORT\", \"client_external_id\": \"250\",
              \"client_source\": \"connectwise\", $fast}')" >/dev/null
}

# restart_cluster [fast|immediate]: restart the cluster this test runs on --
# a private one (ETOP_PGDATA, with pg_ctl) or the pg_virtualenv one
# (pg_ctlcluster $PGVERSION regress).  Returns 2 when neither is available.
can_restart_cluster() {
    [ -n "${ETOP_PGDATA:-}" ] && [ -f "$ETOP_PGDATA/PG_VERSION" ] && return 0
    [ -n "${PGVERSION:-}" ] && command -v pg_lsclusters >/dev/null &&
        pg_lsclusters -h 2>/dev/null | awk '{print $1 "/" $2}' | grep -qx "$PGVERSION/regress"
}
restart_cluster() {
    local mode=${1:-fast} runas=()
    if [ -n "${ETOP_PGDATA:-}" ] && [ -f "$ETOP_PGDATA/PG_VERSION" ]; then
        [ "$(id -u)" -eq 0 ] && runas=(runuser -u "$(stat -c %U "$ETOP_PGDATA")" --)
        "${runas[@]}" pg_ctl -D "$ETOP_PGDATA" -l "${ETOP_SERVER_LOG:-$ETOP_PGDATA/server.log}" \
            -m "$mode" -w restart >/dev/null
    elif can_restart_cluster; then
        pg_ctlcluster -m "$mode" "$PGVERSION" regress restart
    else
        return 2
    fi
    for _ in $(seq 100); do psql -X -q -d postgres -c "SELECT 1" >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}
# The server log, to check what reaches it: ETOP_SERVER_LOG, or the log of
# pg_virtualenv's cluster; empty when neither is known.
server_log() { echo "${ETOP_SERVER_LOG:-$(pg_lsclusters -h 2>/dev/null | awk '$2 == "regress" {print $7}' | head -1)}"; }
# mock_control PORT JSON: POST /__control to a mock
mock_control() { curl -s --noproxy '*' -X POST -d "$2" "http://127.0.0.1:$1/__control" >/dev/null; }
