#!/usr/bin/env bash
# No role becomes more than it is: attacks by non-superuser login roles (an
# etop_admin, an etop_am) are refused with clear errors, credentials go only
# where they were given for and never reach the server log, and nobody ends up
# superuser.  A witness session must survive.
source "$(dirname "$0")/lib.bash"
ROLES="it_priv_admin it_priv_admin2 it_priv_am it_priv_nobody"
WITNESS_PID=""
cleanup() {
    [ -n "$WITNESS_PID" ] && kill "$WITNESS_PID" 2>/dev/null || true
    stop_mocks
    drop_db
    for r in $ROLES; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" 2>/dev/null || true; done
}
trap cleanup EXIT
fresh_db
for r in $ROLES; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r"; done
psql -X -q -d postgres \
    -c "CREATE ROLE it_priv_admin LOGIN PASSWORD 'it-priv-admin' IN ROLE etop_admin" \
    -c "CREATE ROLE it_priv_admin2 LOGIN PASSWORD 'it-priv-admin2' IN ROLE etop_admin" \
    -c "CREATE ROLE it_priv_am LOGIN PASSWORD 'it-priv-am' IN ROLE etop_am" \
    -c "CREATE ROLE it_priv_nobody LOGIN PASSWORD 'it-priv-nobody'"
# as ROLE: SQL...
as() { local r=$1; shift; PGUSER=$r PGPASSWORD=${r//_/-} psql -X -q -d "$IT_DB" -tA "$@"; }
# the server log, to check what reaches it (pg_virtualenv's cluster, or ETOP_SERVER_LOG)
LOG=$(server_log)
log_size() { [ -n "$LOG" ] && [ -r "$LOG" ] && stat -c %s "$LOG" || echo 0; }
started=$(q -c "SELECT pg_postmaster_start_time()")
psql -X -q -d "$IT_DB" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
WITNESS_PID=$!

echo "-- credentials go only where they were given for"
start_vendor_mocks
as it_priv_admin2 -c "SELECT etop.connection_create('victim-cw', 'connectwise',
        'http://127.0.0.1:$CW_PORT/v4_6_release/apis/3.0',
        '{\"company_id\": \"etopdemo\", \"public_key\": \"etopPublicKey\", \"private_key\": \"VictimPrivateKey\",
          \"client_id\": \"5e1a7e1c-0000-4000-8000-00000000e70b\"}')" >/dev/null
as it_priv_admin2 -c "SELECT etop.connection_create('victim-m365', 'm365', 'http://127.0.0.1:$GRAPH_PORT',
        '{\"tenant_id\": \"8f4d2c1a-5b6e-4f70-9a81-2c3d4e5f6a7b\", \"client_id\": \"11111111-2222-4333-8444-555555555555\",
          \"client_secret\": \"VictimClientSecret\"}', '{\"authority\": \"http://127.0.0.1:$GRAPH_PORT\"}')" >/dev/null
# a listener of the attacker's, on this machine
LISTEN_LOG=$(mktemp)
python3 - "$LISTEN_LOG" <<'PY' &
import http.server, socketserver, sys, threading
log = open(sys.argv[1], 'a')
class H(http.server.BaseHTTPRequestHandler):
    def handle_one(self):
        n = int(self.headers.get('Content-Length') or 0)
        log.write(self.requestline + '\n' + str(self.headers) + (self.rfile.read(n).decode('latin-1') if n else '') + '\n'); log.flush()
        self.send_response(401); self.end_headers()
    do_GET = do_POST = handle_one
    def log_message(self, *a): pass
s = socketserver.TCPServer(('127.0.0.1', 0), H)
open(sys.argv[1] + '.port', 'w').write(str(s.server_address[1]))
threading.Timer(120, s.shutdown).start()
s.serve_forever()
PY
MOCK_PIDS+=($!)
for _ in $(seq 50); do [ -s "$LISTEN_LOG.port" ] && break; sleep 0.1; done
EVIL=$(cat "$LISTEN_LOG.port")
out=$(as it_priv_admin -c "UPDATE etop.connections SET base_url = 'http://127.0.0.1:$EVIL' WHERE name = 'victim-cw'" 2>&1 || true)
case "$out" in *'changing where connection "victim-cw" sends its credentials needs the credentials again'*)
    ok "admin cannot point another's connection elsewhere (base_url)" ;; *) bad "base_url redirect: $out" ;; esac
out=$(as it_priv_admin -c "UPDATE etop.connections SET options = options || '{\"authority\": \"http://127.0.0.1:$EVIL\"}'
                           WHERE name = 'victim-m365'" 2>&1 || true)
case "$out" in *'sends its credentials needs the credentials again'*)
    ok "admin cannot redirect the OAuth secret (options.authority)" ;; *) bad "authority redirect: $out" ;; esac
out=$(as it_priv_admin -c "SELECT etop.connection_update('victim-cw', base_url => 'http://127.0.0.1:$EVIL')" 2>&1 || true)
case "$out" in *'needs the credentials again'*) ok "connection_update without credentials refused" ;;
    *) bad "connection_update redirect: $out" ;; esac
# harmless options still change (business hours), and a change with new credentials is fine
expect "other options still change" \
    "$(as it_priv_admin -c "UPDATE etop.connections SET options = options || '{\"time_zone\": \"Europe/Berlin\"}' WHERE name = 'victim-cw' RETURNING options->>'time_zone'")" \
    "Europe/Berlin"
as it_priv_admin -c "SELECT etop.sync_now('victim-cw')" >/dev/null 2>&1 || true
as it_priv_admin -c "SELECT etop.sync_now('victim-m365')" >/dev/null 2>&1 || true
if grep -q "Victim\|VmljdGlt" "$LISTEN_LOG"; then bad "the listener received credentials"
else ok "the listener received nothing ($(grep -c '^[A-Z]* /' "$LISTEN_LOG" || true) requests)"; fi

echo "-- a failing connection_create keeps its credentials out of the log"
before=$(log_size)
out=$(as it_priv_admin -c "SELECT etop.connection_create('victim-cw', 'connectwise', 'http://127.0.0.1:1',
        '{\"private_key\": \"LoggedPrivateKey\"}')" 2>&1 || true)
case "$out" in *'connection "victim-cw" already exists'*) ok "duplicate name: clear error" ;; *) bad "duplicate: $out" ;; esac
out=$(as it_priv_admin -c "SELECT etop.connection_update('victim-cw', base_url => 'ftp://x', credentials => '{\"private_key\": \"LoggedPrivateKey\"}')" 2>&1 || true)
case "$out" in *'base_url must be an http'*) ok "bad update: clear error" ;; *) bad "bad update: $out" ;; esac
sleep 0.5
if [ -n "$LOG" ] && [ -r "$LOG" ]; then
    if tail -c +$((before + 1)) "$LOG" | grep -q "LoggedPrivateKey"; then
        bad "the private key reached the server log: $(tail -c +$((before + 1)) "$LOG" | grep -m1 LoggedPrivateKey)"
    else ok "no credential in the server log"; fi
else
    echo "  (server log not readable here: set ETOP_SERVER_LOG to check it)"
fi

echo "-- an etop_admin cannot run code as the superuser sync worker"
q -c "GRANT CREATE ON DATABASE $IT_DB TO it_priv_admin" >/dev/null
as it_priv_admin -c "CREATE SCHEMA it_evil" \
    -c "CREATE FUNCTION it_evil.norm(run bigint) RETURNS jsonb LANGUAGE plpgsql AS \$\$
          BEGIN EXECUTE 'ALTER ROLE it_priv_admin SUPERUSER'; RETURN '{}'; END \$\$" >/dev/null
out=$(as it_priv_admin -c "INSERT INTO etop.adapters (name, library, symbol, normalize_function)
        VALUES ('evil', '\$libdir/etop', 'etop_connectwise_fetch', 'it_evil.norm(bigint)')" 2>&1 || true)
case "$out" in *'only a superuser may register an adapter or change its C library'*)
    ok "registering an adapter (a C library) is superuser-only" ;; *) bad "adapter insert: $out" ;; esac
out=$(as it_priv_admin -c "UPDATE etop.adapters SET library = '/tmp/evil.so' WHERE name = 'connectwise'" 2>&1 || true)
case "$out" in *'only a superuser may'*) ok "changing an adapter's library is superuser-only" ;;
    *) bad "library update: $out" ;; esac
out=$(as it_priv_am -c "UPDATE etop.adapters SET normalize_function = 'it_evil.norm(bigint)'" 2>&1 || true)
case "$out" in *'permission denied'*) ok "an account manager cannot touch adapters" ;; *) bad "am adapters: $out" ;; esac
# the SQL side is the admin's to manage, and then runs with the admin's rights
expect "an admin may set a normalization function, recorded as its role" \
    "$(as it_priv_admin -c "UPDATE etop.adapters SET normalize_function = 'it_evil.norm(bigint)', normalize_role = 'postgres'
                            WHERE name = 'connectwise' RETURNING normalize_role")" "it_priv_admin"
create_vendor_connections     # with the mocks' valid credentials
R=$(as it_priv_admin -c "SELECT etop.sync_now('connectwise')::text" 2>&1 || true)
case "$R" in *'permission denied to alter role'*|*'must be superuser'*|*'permission denied'*)
    ok "the sync ran the function as the admin, and it was refused" ;;
    *) bad "sync with the admin's function: $R" ;; esac
expect "the admin is not superuser" "$(q -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'it_priv_admin'")" "f"
q -c "UPDATE etop.adapters SET normalize_function = 'etop.normalize_connectwise(bigint)' WHERE name = 'connectwise'" >/dev/null
expect "as the superuser again, the built-in normalization works" \
    "$(q -c "SELECT etop.sync_now('connectwise')->>'status'")" "succeeded"

expect "PUBLIC may execute no function of etop or etop_internal" \
    "$(q -c "SELECT count(*) FROM pg_proc p WHERE p.pronamespace IN ('etop'::regnamespace, 'etop_internal'::regnamespace)
               AND has_function_privilege('public', p.oid, 'EXECUTE')")" "0"
expect "an account manager cannot call the queue's internals" \
    "$(as it_priv_am -c "SELECT etop_internal.job_claim()" 2>&1 | grep -o 'permission denied for function job_claim')" \
    "permission denied for function job_claim"
expect "a login role with no etop role cannot use etop_internal" \
    "$(as it_priv_nobody -c "SELECT etop_internal.job_claim()" 2>&1 | grep -o 'permission denied for schema etop_internal')" \
    "permission denied for schema etop_internal"
echo "-- SECURITY DEFINER functions pin search_path; a shadowing function is not picked up"
expect "every SECURITY DEFINER function of etop (API and internals) pins search_path" \
    "$(q -c "SELECT coalesce(string_agg(p.oid::regprocedure::text, ', '), 'all')
               FROM pg_proc p WHERE p.pronamespace IN ('etop'::regnamespace, 'etop_internal'::regnamespace) AND p.prosecdef
                AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')")" "all"
as it_priv_admin -c "CREATE FUNCTION it_evil.rtrim(text, text) RETURNS text LANGUAGE plpgsql AS \$\$
          BEGIN EXECUTE 'ALTER ROLE it_priv_admin SUPERUSER'; RETURN \$1; END \$\$" \
    -c "CREATE FUNCTION it_evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE plpgsql AS \$\$
          BEGIN EXECUTE 'ALTER ROLE it_priv_admin SUPERUSER'; RETURN 'object'; END \$\$" >/dev/null
as it_priv_admin -c "SET search_path = it_evil, pg_catalog, etop" \
    -c "SELECT etop.connection_create('shadow', 'connectwise', 'http://127.0.0.1:1', '{}')" >/dev/null 2>&1 || true
expect "a shadowing rtrim/jsonb_typeof was not called by connection_create" \
    "$(q -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'it_priv_admin'")" "f"

echo "-- nobody became superuser; the witness lived"
expect "no test role is superuser" \
    "$(q -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'it_priv_%' AND (rolsuper OR rolcreaterole OR rolbypassrls)")" "0"
if kill -0 "$WITNESS_PID" 2>/dev/null; then ok "witness session alive"; else bad "witness session died"; fi
expect "no crash-restart" "$(q -c "SELECT pg_postmaster_start_time() = '$started'")" "t"
rm -f "$LISTEN_LOG" "$LISTEN_LOG.port"
finish
