#!/usr/bin/env bash
# SQL-level fuzz test: logs in as an etop_reader and an etop_am login role and
# calls every function in schema etop that either may EXECUTE (discovered
# from the catalog, so new functions are covered automatically) with mutated
# inputs built from the extension's own valid output (narrative_input,
# narrative_offline, qbr_document, scores, generated PNG logos).  Errors are
# fine; a backend crash (or a crash-restart of the server) fails the test and
# prints the exact statement.  The fuzzing itself is tests/integration/sql_fuzz.py.
#
#   SQL_FUZZ_SECONDS  total time budget, setup included (default 60)
#   SQL_FUZZ_SEED     random seed (default 1); printed, so a run can be replayed
#   SQL_FUZZ_OUT      directory for the statement log of the current batch and
#                     for reproducers (default: a new directory under /tmp)
#   SQL_FUZZ_CONTINUE =1: after a crash, wait for the server and go on looking
#                     for more crashes (the test still fails)
#   SQL_FUZZ_SERVER_LOG  the server's log file, scanned for crash messages
#                     (found by itself for Debian clusters and
#                     scripts/private-pg.sh)
#   SQL_FUZZ_ONLY     a regular expression: fuzz only the functions whose
#                     signature it matches (e.g. 'qbr_render_doc')
#   SQL_FUZZ_VERBOSE  =1: the commonest error messages of each function
#
# Needs Debian's python3-psycopg2 (scripts/setup-debian.sh installs it).
source "$(dirname "$0")/lib.bash"
T0=$SECONDS
BUDGET=${SQL_FUZZ_SECONDS:-60}
PY=${ETOP_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import psycopg2' 2>/dev/null; then
    echo "sql_fuzz: $PY cannot import psycopg2 (apt-get install python3-psycopg2)" >&2
    exit 1
fi

# Login roles of our own (roles are cluster-wide: dropped again at the end).
R_READER=etop_fuzz_reader
R_AM=etop_fuzz_am
PW=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
drop_roles() {
    psql -X -q -d postgres -c "DROP ROLE IF EXISTS $R_READER" -c "DROP ROLE IF EXISTS $R_AM" >/dev/null 2>&1 || true
}
cleanup() {
    # after a crash the server is in recovery for a few seconds
    for _ in $(seq 60); do psql -X -q -d postgres -tc "SELECT 1" >/dev/null 2>&1 && break; sleep 0.5; done
    drop_db; drop_roles
}
trap cleanup EXIT

fresh_db
drop_roles
psql -X -q -v ON_ERROR_STOP=1 -d postgres \
     -c "CREATE ROLE $R_READER LOGIN PASSWORD '$PW' IN ROLE etop_reader" \
     -c "CREATE ROLE $R_AM LOGIN PASSWORD '$PW' IN ROLE etop_am" >/dev/null
q -c "SELECT etop.demo_seed(5, 1, '2026-01-15')" >/dev/null
# The account manager sees two of the five clients; a few drafts to review.
q -c "INSERT INTO etop.client_assignments (client_id, am_role)
      SELECT id, '$R_AM' FROM etop.clients ORDER BY id LIMIT 2" >/dev/null
q -c "INSERT INTO etop.qbrs (client_id, period, as_of, status, narrative, scores, pdf)
      SELECT c.id, 'Q1 2026', '2026-01-15', 'draft', '{}', '{}', '\x25504446'::bytea
        FROM etop.clients c, generate_series(1, 15)" >/dev/null

seen=$(PGUSER=$R_AM PGPASSWORD=$PW q -c "SELECT count(*) FROM etop.clients")
[ "$seen" = 2 ] || { echo "sql_fuzz: FAIL: $R_AM sees $seen clients, not the 2 assigned to it" >&2; exit 1; }

# The fuzzer prints the closing line: sql_fuzz: N calls, N errors, N timeouts, N crashes
left=$((BUDGET - (SECONDS - T0) - 2))
[ "$left" -ge 5 ] || left=5
SQL_FUZZ_DB=$IT_DB SQL_FUZZ_ROLES="$R_READER $R_AM" SQL_FUZZ_PASSWORD=$PW \
    SQL_FUZZ_FUZZ_SECONDS=$left SQL_FUZZ_SETUP_SECONDS=$((SECONDS - T0)) SQL_FUZZ_DATA="$TOP/tests/data" \
    "$PY" "$TOP/tests/integration/sql_fuzz.py"
