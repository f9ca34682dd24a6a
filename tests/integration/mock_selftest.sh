#!/usr/bin/env bash
# The mock vendor and LLM servers' own self-test (tests/mock/selftest.sh):
# real field names, paging, every fault scenario, bounds and clean shutdown.
exec "$(dirname "$0")/../mock/selftest.sh"
