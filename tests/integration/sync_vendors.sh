#!/usr/bin/env bash
# The spec's three adapter features against the mock vendor servers:
# "ConnectWise Adapter Sync", "Immy.Bot Adapter Sync", "Microsoft 365 Adapter
# Sync" — counts, correlation, idempotency — and every failure mode: 401,
# 429 (retried, then the rate-limit object), Graph 403 (endpoint skipped, naming its permission),
# 5xx, timeouts, dropped connections, malformed JSON; a failed sync changes no
# normalized row.
source "$(dirname "$0")/lib.bash"
cleanup() { stop_mocks; drop_db; }
trap cleanup EXIT

fresh_db
start_vendor_mocks
create_vendor_connections
snapshot() { q -c "SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (
    SELECT 'c' || row(c.*)::text t FROM etop.clients c UNION ALL SELECT 'd' || row(d.*)::text FROM etop.devices d
    UNION ALL SELECT 't' || row(x.*)::text FROM etop.tickets x UNION ALL SELECT 'u' || row(u.*)::text FROM etop.users u
    UNION ALL SELECT 'k' || row(k.*)::text FROM etop.controls k UNION ALL SELECT 'r' || row(r.*)::text FROM etop.risks r) s"; }
sync() { q -c "SELECT (etop.sync_now('$1', ${2:-false}) - 'run_id' - 'synced_at')::text"; }
cw()   { curl -s -X POST -d "$1" "http://127.0.0.1:$CW_PORT/__control" >/dev/null; }
graph() { curl -s -X POST -d "$1" "http://127.0.0.1:$GRAPH_PORT/__control" >/dev/null; }

echo "-- ConnectWise: authentication failure inserts nothing"
q -c "SELECT etop.connection_create('cw-bad', 'connectwise', 'http://127.0.0.1:$CW_PORT/v4_6_release/apis/3.0',
        '{\"company_id\": \"etopdemo\", \"public_key\": \"etopPublicKey\", \"private_key\": \"wrong\",
          \"client_id\": \"5e1a7e1c-0000-4000-8000-00000000e70b\"}')" >/dev/null
R=$(sync cw-bad)
expect "401 error object" "$R" '{"error": "ConnectWise authentication failed", "status": "failed", "details": "Invalid API credentials", "http_status": 401}'
expect "no records inserted" "$(q -c "SELECT count(*) FROM etop.clients")" "0"

echo "-- ConnectWise: successful sync"
R=$(sync connectwise)
expect "record counts" "$(q -c "SELECT '$R'::jsonb->'record_counts' @> '{\"clients\": 5, \"agreements\": 8, \"tickets\": 150, \"devices\": 47}'")" "t"
expect "tables hold 5/8/150/47" "$(q -c "SELECT (SELECT count(*) FROM etop.clients) || '/' || (SELECT count(*) FROM etop.agreements) || '/' || (SELECT count(*) FROM etop.tickets) || '/' || (SELECT count(*) FROM etop.devices)")" "5/8/150/47"
expect "every client has source connectwise and an external id" \
    "$(q -c "SELECT bool_and(source = 'connectwise' AND external_id ~ '^[0-9]+$') FROM etop.clients")" "t"
BEFORE=$(snapshot)
sync connectwise >/dev/null
expect "a second sync changes nothing (idempotent upserts)" "$(snapshot)" "$BEFORE"

echo "-- ConnectWise: rate limit"
cw '{"scenario": "429", "times": 2, "retry_after": 1}'
R=$(sync connectwise)
expect "429 twice, then retried to success" "$(q -c "SELECT '$R'::jsonb->>'status'")" "succeeded"
cw '{"scenario": "429", "retry_after": 60}'
R=$(sync connectwise)
expect "persistent 429: the rate-limit object" "$(q -c "SELECT ('$R'::jsonb - 'attempts')::text")" \
    '{"error": "ConnectWise rate limit exceeded", "status": "failed", "http_status": 429, "retry_after": 60}'

for scenario in 503 hang drop malformed bad-utf8 not-array wrong-types; do
    case $scenario in
        503) cw '{"scenario": "503"}'; want="ConnectWise API unavailable (HTTP 503)" ;;
        hang) cw '{"scenario": "hang"}'
              q -c "UPDATE etop.connections SET options = options || '{\"timeout_ms\": 1500, \"max_attempts\": 2}' WHERE name = 'connectwise'" >/dev/null
              want="ConnectWise API timeout" ;;
        drop) cw '{"scenario": "drop"}'; want="ConnectWise connection dropped" ;;
        malformed) cw '{"scenario": "malformed", "path": "/v4_6_release/apis/3.0/service/tickets"}'; want="ConnectWise returned malformed JSON" ;;
        bad-utf8) cw '{"scenario": "bad-utf8", "path": "/v4_6_release/apis/3.0/service/tickets"}'; want="ConnectWise returned malformed JSON" ;;
        not-array) cw '{"scenario": "not-array", "path": "/v4_6_release/apis/3.0/service/tickets"}'; want="ConnectWise returned an unexpected response" ;;
        wrong-types) cw '{"scenario": "wrong-types", "path": "/v4_6_release/apis/3.0/service/tickets"}'; want="" ;;
    esac
    R=$(sync connectwise true)      # full: every record is fetched (and broken)
    err=$(q -c "SELECT '$R'::jsonb->>'error'")
    if [ -n "$want" ]; then expect "$scenario: clear error" "$err" "$want"; else
        [ -n "$err" ] && ok "$scenario: clear error ($err)" || bad "$scenario: no error"; fi
    expect "$scenario: normalized tables unchanged" "$(snapshot)" "$BEFORE"
    q -c "UPDATE etop.connections SET options = options - 'timeout_ms' - 'max_attempts' WHERE name = 'connectwise'" >/dev/null
    cw '{"clear": true}'
done
expect "the unexpected response names the endpoint and page" \
    "$(q -c "SELECT error->>'endpoint' || ' ' || (error->>'page') || ': ' || (error->>'details') FROM etop.sync_runs WHERE error->>'error' = 'ConnectWise returned an unexpected response' ORDER BY id DESC LIMIT 1")" \
    "service/tickets 1: the response is not an array"
# the company ids (for the sites) are read, not stored: a malformed reply there
# is named too (was PostgreSQL's bare "invalid input syntax for type json")
P=/v4_6_release/apis/3.0/company/companies
cw "{\"clear\": true, \"add\": [{\"scenario\": \"ok\", \"times\": 1, \"path\": \"$P\"},
                        {\"scenario\": \"malformed\", \"times\": 1, \"path\": \"$P\"}]}"
R=$(sync connectwise true)
expect "malformed company ids: clear error" "$(q -c "SELECT ('$R'::jsonb->>'error') || ' (' || ('$R'::jsonb->>'endpoint') || ', page ' || ('$R'::jsonb->>'page') || '): ' || ('$R'::jsonb->>'details')")" \
    "ConnectWise returned malformed JSON (company ids, page 1): invalid input syntax for type json"
expect "malformed company ids: normalized tables unchanged" "$(snapshot)" "$BEFORE"
cw '{"clear": true}'
# options that are not whole numbers are refused, not read as 0 (the default)
# or, for a negative max_response_bytes, as no limit at all
for o in '{"timeout_ms": "soon"}' '{"max_response_bytes": -1}' '{"page_size": "abc"}'; do
    q -c "UPDATE etop.connections SET options = options || '$o' WHERE name = 'connectwise'" >/dev/null
    R=$(sync connectwise true)
    case $o in *page_size*) want='ConnectWise option "page_size" must be a whole number of at least 1' ;;
               *) want="connection option \"$(echo "$o" | sed 's/{"\([a-z_]*\)".*/\1/')\" must be a whole number of 0 or more" ;; esac
    expect "option $o: clear error" "$(q -c "SELECT '$R'::jsonb->>'error'")" "$want"
    q -c "UPDATE etop.connections SET options = options - 'timeout_ms' - 'max_response_bytes' - 'page_size' WHERE name = 'connectwise'" >/dev/null
done
expect "failed runs are recorded with their error" \
    "$(q -c "SELECT count(*) >= 7 FROM etop.sync_runs WHERE status = 'failed' AND error ? 'error'")" "t"

echo "-- Immy.Bot: 47 computers correlate with the ConnectWise devices"
R=$(sync immy)
expect "immy sync succeeded" "$(q -c "SELECT '$R'::jsonb->>'status'")" "succeeded"
expect "still 47 devices (no duplicates)" "$(q -c "SELECT count(*) FROM etop.devices")" "47"
expect "all managed" "$(q -c "SELECT count(*) FILTER (WHERE managed) FROM etop.devices")" "47"
expect "47 immy refs by serial number" "$(q -c "SELECT count(*) FROM etop.external_refs WHERE source = 'immy' AND entity = 'device'")" "47"
expect "12 immy_baseline controls" "$(q -c "SELECT count(*) FROM etop.controls WHERE control_type = 'immy_baseline'")" "12"
expect "controls: status, evidence, last_checked in 24 h" \
    "$(q -c "SELECT bool_and(status IN ('pass','fail','unknown') AND jsonb_typeof(evidence) = 'object' AND last_checked > now() - interval '24 hours') FROM etop.controls WHERE control_type = 'immy_baseline'")" "t"

echo "-- Microsoft 365"
R=$(sync m365)
expect "m365 sync succeeded" "$(q -c "SELECT '$R'::jsonb->>'status'")" "succeeded"
expect "73 users" "$(q -c "SELECT count(*) FROM etop.users")" "73"
expect "28 secure score controls" "$(q -c "SELECT count(*) FROM etop.controls WHERE control_type = 'm365_secure_score'")" "28"
expect "5 endpoint risks" "$(q -c "SELECT count(*) FROM etop.risks WHERE risk_type = 'endpoint'")" "5"
expect "users: email, UPN, MFA, risk level" \
    "$(q -c "SELECT bool_and(email ~ '^[^@ ]+@[^@ ]+\.[a-z]+$' AND upn ~ '^[^@ ]+@[^@ ]+$' AND mfa_enabled IS NOT NULL AND risk_level IN ('none','low','medium','high')) FROM etop.users")" "t"
graph '{"scenario": "403", "path": "/v1.0/security/secureScores"}'
R=$(sync m365)
expect "Graph 403 on secureScores: the rest syncs, the endpoint is skipped naming its permission" \
    "$(q -c "SELECT ('$R'::jsonb->>'status') || ' ' || (('$R'::jsonb->'record_counts'->'skipped_endpoints'->0) - 'code')::text")" \
    'succeeded {"needs": "SecurityEvents.Read.All", "reason": "permission", "status": 403, "endpoint": "security/secureScores", "property": null}'
graph '{"clear": true}'
graph '{"scenario": "foreign-next-link", "path": "/v1.0/users"}'
R=$(sync m365)
expect "a next-page link to another host: the token is not sent there" \
    "$(q -c "SELECT '$R'::jsonb->>'error'")" 'Microsoft Graph sent a link to another host'
graph '{"clear": true}'
graph '{"scenario": "long-next-link", "path": "/v1.0/users"}'
R=$(sync m365)
expect "a failing next-page link: the vendor's error" "$(q -c "SELECT '$R'::jsonb->>'error'")" \
    'Microsoft Graph rejected the request (HTTP 400)'
expect "... whose long non-ASCII URL is cut at a whole character" \
    "$(q -c "SELECT convert_to(error::text, 'UTF8') IS NOT NULL AND error->>'url' LIKE '%/no-such-page/x%é'
             FROM etop.sync_runs ORDER BY id DESC LIMIT 1" 2>&1)" "t"
graph '{"clear": true}'
graph '{"scenario": "not-array", "path": "/v1.0/users"}'
R=$(sync m365)
expect "Graph answers without a value array: a clear error" \
    "$(q -c "SELECT '$R'::jsonb->>'error' || ' / ' || ('$R'::jsonb->>'details')")" \
    'Microsoft Graph returned an unexpected response / no "value" array in the response'
expect "after it, the users are unchanged" "$(q -c "SELECT count(*) FROM etop.users")" "73"
graph '{"clear": true}'

echo "-- scores from synced data"
expect "client 250 has all three scores" \
    "$(q -c "SELECT (s->'standards'->>'score') IS NOT NULL AND (s->'risk'->>'score') IS NOT NULL FROM etop.clients c, etop.etop_scores(c.id) s WHERE c.external_id = '250'")" "t"
if q -c "SELECT error::text FROM etop.sync_runs" | grep -q "etopPrivateKey\|mock-graph-secret\|mock-immy-secret"; then
    bad "a secret appears in sync_runs"
else
    ok "no secret in sync_runs"
fi
finish
