#!/usr/bin/env bash
# Self-test of the mock vendor servers (tests/mock/*.py): starts each one on a
# free 127.0.0.1 port, checks counts, paging, auth and fault scenarios with
# curl, and stops it.  Needs python3 and curl only.  About 30 s.
set -euo pipefail
cd "$(dirname "$0")"
command -v python3 >/dev/null || { echo "selftest.sh: python3 is required" >&2; exit 1; }
command -v curl >/dev/null || { echo "selftest.sh: curl is required" >&2; exit 1; }
# The servers are on 127.0.0.1: never send these requests through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
exec python3 -W error::ResourceWarning -m unittest -v test_mocks "$@"
