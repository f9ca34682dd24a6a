#!/usr/bin/env bash
# Fetch PostgreSQL's jsonb sources (fetch-pg-source.sh) and build the jsonb fuzz
# targets into tests/fuzz/pg/build/ (see docs/fuzzing-jsonb.md).
#
#   tests/fuzz/pg/build.sh          build; prints one line per target on stdout:
#                                   "<binary path> <corpus dir>"
#
# Exit 0 with "skipped: no PostgreSQL source ..." on stderr and nothing on stdout
# (tests/fuzz/run.sh takes an empty stdout for "skipped") only when
# the PostgreSQL source truly cannot be fetched here; any other failure (no
# clang, no lld, a compile or link error) fails.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../../.." && pwd)

need() { command -v "$1" >/dev/null 2>&1; }
if ! need clang-14 || ! need ld.lld; then
    if [ "$(id -u)" -eq 0 ] && need apt-get; then
        echo "build.sh: installing clang-14, lld-14, libclang-rt-14-dev" >&2
        apt-get install -y -qq clang-14 lld-14 libclang-rt-14-dev >&2
        need ld.lld || ln -sf /usr/bin/ld.lld-14 /usr/local/bin/ld.lld
    fi
fi
need clang-14 || { echo "build.sh: clang-14 is needed (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }
need ld.lld || { echo "build.sh: lld is needed (apt-get install lld-14)" >&2; exit 1; }
need pg_config || { echo "build.sh: pg_config is needed (apt-get install postgresql-server-dev-15)" >&2; exit 1; }

set +e
PG_SRC=$("$HERE/fetch-pg-source.sh")
rc=$?
set -e
if [ $rc -eq 2 ]; then
    echo "skipped: no PostgreSQL source (Debian's postgresql-15 source package could not be fetched)" >&2
    exit 0
fi
[ $rc -eq 0 ] || exit $rc

make -s -C "$HERE" PG_SRC="$PG_SRC" -j"$(nproc)" >&2
for t in $(make -s -C "$HERE" PG_SRC="$PG_SRC" list); do
    echo "$HERE/build/$t $TOP/tests/fuzz/corpus/$t"
done
