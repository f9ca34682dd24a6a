#!/usr/bin/env bash
# Self-test of the mock vendor servers (tests/mock/*.py): starts each one on a
# free 127.0.0.1 port, checks counts, paging, auth and fault scenarios with
# curl, and stops it.  Needs python3 and curl only.  About 30 s.
set -euo pipefail
cd "$(dirname "$0")"
# $ETOP_PYTHON, else Debian's python3 (a version-manager shim on PATH can take
# seconds per start), else python3 from PATH.
PYTHON=${ETOP_PYTHON:-$(command -v /usr/bin/python3 || command -v python3 || true)}
[ -n "$PYTHON" ] || { echo "selftest.sh: python3 is required" >&2; exit 1; }
export ETOP_PYTHON="$PYTHON"
command -v curl >/dev/null || { echo "selftest.sh: curl is required" >&2; exit 1; }
# The servers are on 127.0.0.1: never send these requests through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
exec "$PYTHON" -W error::ResourceWarning -m unittest -v "${@:-test_mocks}"
