#!/usr/bin/env bash
# Vendors that misbehave make a clear, bounded failure (or are handled), never
# an endless or silently wrong sync:
#   1. paging that never ends: a ConnectWise / Immy.Bot server that ignores
#      page / skip, a Graph @odata.nextLink to itself or back to the first
#      page, a server whose pages never run out (max_pages, max_records);
#   2. ConnectWise capping pageSize lower than asked: the Link header is
#      followed, no record is lost;
#   3. malformed / non-array company ids, JSON nested too deeply, and a
#      \u0000 in a string (stored as U+FFFD, the run succeeds);
#   4. Graph 403 skips that endpoint, naming the permission it needs;
#   5. ids of the wrong type (1e30, a number for a Graph id);
#   6. configurations of a company that is not synced are skipped and counted.
# Every run is bounded (sync_wait with a timeout, then sync_cancel), so the
# test fails instead of hanging on a build that pages forever.
source "$(dirname "$0")/lib.bash"
cleanup() { stop_mocks; drop_db; }
trap cleanup EXIT

fresh_db
start_vendor_mocks --max-seconds 300
create_vendor_connections
cw()    { curl -s -X POST -d "$1" "http://127.0.0.1:$CW_PORT/__control" >/dev/null; }
immy()  { curl -s -X POST -d "$1" "http://127.0.0.1:$IMMY_PORT/__control" >/dev/null; }
graph() { curl -s -X POST -d "$1" "http://127.0.0.1:$GRAPH_PORT/__control" >/dev/null; }
opts()  { q -c "UPDATE etop.connections SET options = options || '$2' WHERE name = '$1'" >/dev/null; }
unopt() { q -c "UPDATE etop.connections SET options = options - '{$2}'::text[] WHERE name = '$1'" >/dev/null; }
# bounded CONNECTION [SECONDS]: a full sync that must end by itself within
# SECONDS (default 20); prints the result object.  A run still going then is
# cancelled and reported as {"status": "still running", ...}.
bounded() {
    local run r
    run=$(q -c "SELECT etop.sync('$1', true)")
    r=$(q -c "SELECT etop.sync_wait($run, '${2:-20} s')::text")
    if [ "$(q -c "SELECT status FROM etop.sync_runs WHERE id = $run")" = running ]; then
        q -c "SELECT etop.sync_cancel($run)" >/dev/null
        q -c "SELECT etop.sync_wait($run, '30 s')" >/dev/null || true
        r="{\"status\": \"still running\", \"progress\": $(q -c "SELECT progress::text FROM etop.sync_runs WHERE id = $run")}"
    fi
    echo "$r"
}
field() { q -c "SELECT '$(echo "$1" | sed "s/'/''/g")'::jsonb->>'$2'"; }

echo "-- baseline: all three vendors sync"
R=$(bounded connectwise 60); expect "connectwise syncs" "$(field "$R" status)" succeeded
R=$(bounded immy 60);        expect "immy syncs" "$(field "$R" status)" succeeded
R=$(bounded m365 60);        expect "m365 syncs" "$(field "$R" status)" succeeded
TICKETS=$(q -c "SELECT count(*) FROM etop.tickets")

echo "-- 1. paging that never ends"
opts connectwise '{"page_size": 10}'
cw '{"scenario": "ignore-paging"}'
R=$(bounded connectwise)
expect "ConnectWise ignoring page: a clear, bounded failure" "$(field "$R" error)" \
    "ConnectWise paging does not end: company/contacts page 2 is page 1 again"
expect "... naming endpoint and page" "$(q -c "SELECT error->>'endpoint' || ' ' || (error->>'page') FROM etop.sync_runs ORDER BY id DESC LIMIT 1")" \
    "company/contacts 2"
cw '{"clear": true}'
cw '{"scenario": "endless", "path": "/v4_6_release/apis/3.0/service/tickets"}'
opts connectwise '{"max_pages": 30}'
R=$(bounded connectwise)
expect "pages that never run out: max_pages" "$(field "$R" error)" \
    "ConnectWise service/tickets has more than 30 pages (connection option max_pages)"
expect "... the error object names the option" "$(q -c "SELECT (error->>'option') || ' ' || (error->>'hint' LIKE '%max_pages%')::text FROM etop.sync_runs ORDER BY id DESC LIMIT 1")" \
    "max_pages true"
unopt connectwise max_pages
opts connectwise '{"max_records": 200}'
R=$(bounded connectwise)
expect "records that never run out: max_records" "$(field "$R" error)" \
    "ConnectWise sent more than 200 records in one run, at service/tickets page 12 (connection option max_records)"
unopt connectwise max_records
cw '{"clear": true}'
unopt connectwise page_size

immy '{"scenario": "ignore-paging", "path": "/api/v1/computers/paged"}'
R=$(bounded immy)
expect "Immy.Bot ignoring skip: a clear, bounded failure" "$(field "$R" error)" \
    "Immy.Bot paging does not end: computers page 2 is page 1 again"
immy '{"clear": true}'

graph '{"scenario": "self-next-link", "path": "/v1.0/users"}'
R=$(bounded m365)
expect "Graph nextLink to itself: a clear, bounded failure" "$(field "$R" error)" \
    "Microsoft Graph paging does not end: the next-page link of users page 1 leads back to page 1"
graph '{"scenario": "cycle-next-link", "path": "/v1.0/users"}'
R=$(bounded m365)
expect "Graph nextLink back to the first page: a clear, bounded failure" "$(field "$R" error)" \
    "Microsoft Graph paging does not end: the next-page link of users page 2 leads back to page 1"
graph '{"clear": true}'
expect "failed runs changed no normalized row" "$(q -c "SELECT count(*) FROM etop.tickets")" "$TICKETS"

echo "-- 2. ConnectWise caps pageSize lower than asked: the Link header is followed"
cw '{"scenario": "page-size-cap", "size": 10}'
R=$(bounded connectwise 60)
expect "capped pages: the sync succeeds" "$(field "$R" status)" succeeded
expect "... with every record (150 tickets, 47 devices, 7 sites)" \
    "$(q -c "SELECT concat_ws('/', '$R'::jsonb->'record_counts'->'tickets', '$R'::jsonb->'record_counts'->'devices', '$R'::jsonb->'record_counts'->'sites')")" "150/47/7"
cw '{"clear": true}'

echo "-- 3. errors that name vendor, endpoint and page"
P=/v4_6_release/apis/3.0/company/companies
cw "{\"clear\": true, \"add\": [{\"scenario\": \"ok\", \"times\": 1, \"path\": \"$P\"},
                        {\"scenario\": \"not-array\", \"times\": 1, \"path\": \"$P\"}]}"
R=$(bounded connectwise)
expect "company ids that are not an array: a clear error (was: a silent success without sites)" \
    "$(field "$R" error) / $(q -c "SELECT error->>'endpoint' || ' page ' || (error->>'page') FROM etop.sync_runs ORDER BY id DESC LIMIT 1")" \
    "ConnectWise returned an unexpected response / company ids page 1"
cw '{"scenario": "deep-json", "path": "/v4_6_release/apis/3.0/service/tickets"}'
R=$(bounded connectwise)
expect "JSON nested 100000 deep: a clear error" "$(field "$R" error)" "ConnectWise returned JSON nested too deeply"
expect "... naming endpoint and page" "$(q -c "SELECT error->>'endpoint' || ' ' || (error->>'page') FROM etop.sync_runs ORDER BY id DESC LIMIT 1")" \
    "service/tickets 1"
cw '{"scenario": "deep-json", "path": "/v4_6_release/apis/3.0/service/tickets", "size": 5000}'
R=$(bounded connectwise)
expect "JSON nested 5000 deep (parsable): the same clear error" "$(field "$R" error)" "ConnectWise returned JSON nested too deeply"
cw '{"scenario": "nul-escape", "path": "/v4_6_release/apis/3.0/service/tickets"}'
R=$(bounded connectwise 60)
expect "a \\u0000 in a string: the sync succeeds" "$(field "$R" status)" succeeded
expect "... and the character is stored as U+FFFD" \
    "$(q -c "SELECT count(*) > 0 FROM etop.tickets WHERE summary LIKE '%' || U&'\FFFD' || ' (after NUL)'")" t
cw '{"clear": true}'

echo "-- 4. Graph 403 skips the endpoint and names the permission it needs"
graph '{"scenario": "403", "path": "/v1.0/identityProtection/riskyUsers"}'
R=$(bounded m365)
expect "riskyUsers 403: skipped, IdentityRiskyUser.Read.All" \
    "$(q -c "SELECT concat_ws(' | ', r->>'status', e->>'endpoint', e->>'reason', e->>'needs', e->>'code') FROM (SELECT '$R'::jsonb r) s, LATERAL (SELECT r->'record_counts'->'skipped_endpoints'->0 e) x")" \
    'succeeded | identityProtection/riskyUsers | permission | IdentityRiskyUser.Read.All | Authorization_RequestDenied'
graph '{"scenario": "403", "path": "/v1.0/security/alerts_v2"}'
R=$(bounded m365)
expect "alerts_v2 403: skipped, SecurityAlert.Read.All" "$(q -c "SELECT '$R'::jsonb->'record_counts'->'skipped_endpoints'->0->>'needs'")" 'SecurityAlert.Read.All'
graph '{"clear": true}'

echo "-- 5. ids of the wrong type"
cw '{"scenario": "bad-ids", "path": "/v4_6_release/apis/3.0/service/tickets"}'
R=$(bounded connectwise)
expect "ConnectWise ticket id 1e30: a per-record error" "$(field "$R" error)" \
    'ConnectWise service/tickets record 1000000000000000000000000000000: field "id" is a number (1000000000000000000000000000000), expected an integer from -2147483648 to 2147483647'
cw '{"clear": true}'
graph '{"scenario": "bad-ids", "path": "/v1.0/users"}'
R=$(bounded m365)
expect "Graph user id 12345 (a number): a per-record error" "$(field "$R" error)" \
    'Microsoft Graph users record 12345: field "id" is a number (12345), expected a non-empty string'
graph '{"clear": true}'
expect "... no second user was made" "$(q -c "SELECT count(*) FROM etop.users")" "73"

echo "-- 6. a configuration of a company that is not synced is skipped and counted"
cw '{"scenario": "unknown-company", "path": "/v4_6_release/apis/3.0/company/configurations"}'
R=$(bounded connectwise 60)
expect "orphan configurations: the sync succeeds" "$(field "$R" status)" succeeded
expect "... and reports the skipped records (3 configurations of company 999)" "$(q -c "SELECT '$R'::jsonb->'record_counts'->>'skipped_unknown_company'")" 3
opts connectwise '{"unknown_companies": "error"}'
R=$(bounded connectwise)
expect "unknown_companies = error still fails" "$(field "$R" error)" \
    "$(q -c "SELECT error->>'error' FROM etop.sync_runs ORDER BY id DESC LIMIT 1")"
expect "... with the foreign-key message" "$(field "$R" error | grep -c 'which is neither in this sync run nor in etop.clients')" 1
cw '{"clear": true}'
finish
