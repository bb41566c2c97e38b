#!/usr/bin/env bash
# The whole test suite: install/build what is missing, then run every test with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# Tests share kernel hooks and runtimes; run files one at a time, each with its own timeout.
mapfile -t files < <(find dist -name '*.test.js' -not -path '*/node_modules/*' | sort)
if [ "$#" -gt 0 ]; then mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -E "$1"); fi
exec node --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
