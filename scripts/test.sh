#!/usr/bin/env bash
# `npm test`: set up, then run the whole suite against a real Temporal dev server.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup.sh"
# Lint is part of the suite: it guards workflow determinism and floating promises.
npx eslint . >&2

# The packaging tests (npm install, zipping 80 MB) use the CPU while the rest mostly waits on timers
# and processes, so they run alongside it; everything else runs one file at a time.
packaging="$root/dist/test/packaging.test.js"
main_files=()
for f in "$root"/dist/test/*.test.js; do [ "$f" = "$packaging" ] || main_files+=("$f"); done
tap_main="$(mktemp)"; tap_pack="$(mktemp)"; spec_pack="$(mktemp)"
trap 'rm -f "$tap_main" "$tap_pack" "$spec_pack"' EXIT

set +e
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination="$spec_pack" \
  --test-reporter=tap --test-reporter-destination="$tap_pack" \
  "$packaging" &
pack_pid=$!
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap_main" \
  "${main_files[@]}"
status=$?
wait "$pack_pid"
pack_status=$?
set -e
cat "$spec_pack"

count() { sed -n "s/^# $1 \([0-9]*\)\$/\1/p" "$2" | tail -1; }
pm=$(count pass "$tap_main"); pp=$(count pass "$tap_pack")
fm=$(count fail "$tap_main"); fp=$(count fail "$tap_pack")
passed=$(( ${pm:-0} + ${pp:-0} ))
failed=$(( ${fm:-0} + ${fp:-0} ))
echo "${passed} passed, ${failed} failed"
[ "$status" -eq 0 ] && [ "$pack_status" -eq 0 ]
