#!/usr/bin/env bash
# The whole test suite: install/build what is missing, then run every test with node's test runner.
#   scripts/test.sh [REGEX]   only the compiled test files (dist/...) that match REGEX
# Files listed in scripts/test-alone.txt (storms, memory bounds) run first, one at a time; then the others, two at a
# time (IG_TEST_CONCURRENCY, default 2; 1 runs everything one file at a time). Each file has its own timeout.
# Per-file durations: .build/test-durations.txt (slowest first; the top 20 are printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
mapfile -t files < <(find dist -name '*.test.js' -not -path '*/node_modules/*' | sort)
if [ "$#" -gt 0 ]; then mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -E "$1" || true); fi
alone_re=$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' scripts/test-alone.txt | { grep -v '^$' || true; } | paste -sd'|')
alone_re=${alone_re:-'^$'}  # an empty list matches nothing
alone=() shared=()
for f in "${files[@]}"; do
  if [[ "$f" =~ $alone_re ]]; then alone+=("$f"); else shared+=("$f"); fi
done
durations=.build/test-durations.txt
mkdir -p .build
: > "$durations.tmp"
: > "$durations.tap"
status=0
# Slowest first (test/harness/run-files.ts): by this checkout's last run, else by scripts/test-durations.txt (a
# snapshot for clean clones); `node --test` itself would run them in name order and leave a lane idle at the end.
run() { # concurrency files...
  local c=$1; shift
  node dist/test/harness/run-files.js --concurrency "$c" --durations "$durations.tmp" \
    --weights scripts/test-durations.txt --weights "$durations" "$@" \
    | tee -a "$durations.tap" || status=1
}
SECONDS=0
if [ ${#alone[@]} -gt 0 ]; then echo "# ${#alone[@]} test files one at a time (scripts/test-alone.txt)"; run 1 "${alone[@]}"; fi
if [ ${#shared[@]} -gt 0 ]; then echo "# ${#shared[@]} test files, ${IG_TEST_CONCURRENCY:-2} at a time"; run "${IG_TEST_CONCURRENCY:-2}" "${shared[@]}"; fi
sort -rn "$durations.tmp" | sed "s| $PWD/| |" > "$durations"
rm -f "$durations.tmp"
# Both runs' counts in one line (each node --test printed its own summary above).
count() { awk -v k="$1" '$0 ~ "^# " k " [0-9]+$" { n += $3 } END { print n + 0 }' "$durations.tap"; }
echo "# all: $(count tests) tests, $(count pass) pass, $(count fail) fail, $(count cancelled) cancelled, $(count skipped) skipped, $(count todo) todo; ${SECONDS} s (${#alone[@]} files alone, ${#shared[@]} files ${IG_TEST_CONCURRENCY:-2} at a time)"
rm -f "$durations.tap"
echo "# slowest test files (ms of their tests; all in $durations):"
head -20 "$durations" | sed 's/^/#   /'
exit $status
