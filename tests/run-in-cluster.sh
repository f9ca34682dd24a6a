#!/usr/bin/env bash
# Runs inside pg_virtualenv (PGHOST/PGPORT/PGUSER/PGPASSWORD point at a
# throwaway cluster): pg_regress, then every tests/integration/*.sh.
# Prints one "N passed, N failed" line and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0; failed=0; failures=()

echo "-- pg_regress"
make -s installcheck 2>&1 | tee /tmp/etop-regress.$$.log
ok=$(grep -cE '^(ok|test) .* ok( |$)|\.\.\. ok' /tmp/etop-regress.$$.log || true)
bad=$(grep -cE 'FAILED|failed \(ignored\)' /tmp/etop-regress.$$.log || true)
passed=$((passed + ok)); failed=$((failed + bad))
if [ "$bad" -gt 0 ] || [ "$ok" -eq 0 ]; then
    [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ] && failed=$((failed + 1))
    [ -f regression.diffs ] && head -300 regression.diffs
    failures+=("pg_regress (see regression.diffs)")
fi
rm -f /tmp/etop-regress.$$.log

# pg_cron's scheduler exits for good when a test drops the database it is
# attached to (DROP DATABASE ... WITH (FORCE) sends it SIGTERM, and pg_cron
# treats that as a shutdown), so inside pg_virtualenv each integration test
# starts on a freshly restarted cluster.  Against a cluster of your own
# nothing is restarted.
restart_virtualenv_cluster() {
    [ -n "${PGVERSION:-}" ] && command -v pg_lsclusters >/dev/null || return 0
    pg_lsclusters -h 2>/dev/null | awk '{print $1 "/" $2}' | grep -qx "$PGVERSION/regress" || return 0
    pg_ctlcluster "$PGVERSION" regress restart
}

for t in tests/integration/*.sh; do
    [ -e "$t" ] || continue
    echo "-- integration: $t"
    restart_virtualenv_cluster || echo "warning: could not restart the cluster before $t"
    if timeout 900 bash "$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)); failures+=("$t")
    fi
done

for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "cluster: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
