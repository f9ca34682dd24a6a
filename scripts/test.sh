#!/usr/bin/env bash
# The test command: sets up a fresh Debian 12 machine, builds etop with
# warnings as errors, and runs every test (pure-C unit tests, pg_regress,
# integration tests) against a throwaway PostgreSQL 15 cluster started with
# shared_preload_libraries = 'etop,pg_cron'.  Exits non-zero if any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# Every server the tests and the demo talk to is on 127.0.0.1: never proxy it.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

scripts/setup-debian.sh

echo "== building etop (warnings are errors)"
make -s clean
make -s COPT=-Werror
$SUDO make -s install

log=$(mktemp); trap 'rm -f "$log"' EXIT

unit_rc=0
if [ -f tests/unit/Makefile ]; then
    echo "== unit tests (pure C, no database)"
    # (pipefail: the pipeline fails when make does)
    make -s -C tests/unit run 2>&1 | tee -a "$log" || unit_rc=1
    grep -qE '^unit: [0-9]+ passed' "$log" || unit_rc=1
fi

fuzz_rc=0
echo "== fuzz targets, a few seconds each (tests/fuzz; longer runs: tests/fuzz/long-run.sh)"
tests/fuzz/run.sh "${ETOP_FUZZ_SECONDS:-5}" 2>&1 | tee -a "$log" || fuzz_rc=1
grep -qE '^fuzz: [0-9]+ passed' "$log" || fuzz_rc=1

echo "== pg_regress and integration tests in a throwaway cluster"
cluster_rc=0
pg_virtualenv -v 15 \
    -o "shared_preload_libraries=etop,pg_cron" \
    -o "cron.database_name=etop_it" \
    -o "cron.use_background_workers=on" \
    -o "etop.database_name=etop_it" \
    -o "max_worker_processes=32" \
    -o "shared_buffers=512MB" \
    tests/run-in-cluster.sh 2>&1 | tee -a "$log" || cluster_rc=1
# a cluster that never started, or a run that died early, prints no total
grep -qE '^cluster: [0-9]+ passed' "$log" || cluster_rc=1

echo "== README's 'Installing into an existing cluster', followed on a fresh cluster"
readme_rc=0
$SUDO tests/readme_install.sh 2>&1 | tee -a "$log" || readme_rc=1
grep -qE '^readme: [0-9]+ passed' "$log" || readme_rc=1

# One closing line for everything: the unit, fuzz, cluster and README totals.
p=0; f=0
while read -r a b; do p=$((p + a)); f=$((f + b)); done < <(
    grep -E '^(unit|fuzz|cluster|readme): [0-9]+ passed, [0-9]+ failed$' "$log" |
    sed -E 's/^[a-z]+: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/')
if [ "$unit_rc" -ne 0 ] || [ "$fuzz_rc" -ne 0 ] || [ "$cluster_rc" -ne 0 ] || [ "$readme_rc" -ne 0 ]; then
    [ "$f" -gt 0 ] || f=1
    echo "== FAILED (unit: $unit_rc, fuzz: $fuzz_rc, cluster: $cluster_rc, readme: $readme_rc)" >&2
fi
echo "etop: $p passed, $f failed"
[ "$f" -eq 0 ]
