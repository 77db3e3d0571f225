#!/usr/bin/env bash
# `npm test`: set up, then run the whole suite against a real Temporal dev server.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup.sh"
# The MCP conformance suite and the Node 22 it runs on: a project of its own (see
# test/conformance.test.ts for why), installed like the main one, when missing or older than its lock.
suite="$root/test/conformance"
if [ ! -f "$suite/node_modules/.package-lock.json" ] || [ "$suite/package-lock.json" -nt "$suite/node_modules/.package-lock.json" ]; then
  echo "test: npm ci --prefix test/conformance" >&2
  npm ci --prefix "$suite" --no-audit --no-fund >&2
fi
# Lint is part of the suite: it guards workflow determinism and floating promises.
npx eslint . >&2

# The packaging tests (npm install, zipping 80 MB) and the 300-step run keep a core busy while the
# rest mostly waits on timers and processes, and none of them asserts timings, so they run alongside
# it, one after the other; everything else runs one file at a time.
background=("$root/dist/test/packaging.test.js" "$root/dist/test/longrun.test.js")
main_files=()
for f in "$root"/dist/test/*.test.js; do [[ " ${background[*]} " == *" $f "* ]] || main_files+=("$f"); done
tap_main="$(mktemp)"; tap_bg="$(mktemp)"; spec_bg="$(mktemp)"
trap 'rm -f "$tap_main" "$tap_bg" "$spec_bg"' EXIT

set +e
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination="$spec_bg" \
  --test-reporter=tap --test-reporter-destination="$tap_bg" \
  "${background[@]}" &
bg_pid=$!
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap_main" \
  "${main_files[@]}"
status=$?
wait "$bg_pid"
bg_status=$?
set -e
cat "$spec_bg"

count() { sed -n "s/^# $1 \([0-9]*\)\$/\1/p" "$2" | tail -1; }
pm=$(count pass "$tap_main"); pb=$(count pass "$tap_bg")
fm=$(count fail "$tap_main"); fb=$(count fail "$tap_bg")
passed=$(( ${pm:-0} + ${pb:-0} ))
failed=$(( ${fm:-0} + ${fb:-0} ))
echo "${passed} passed, ${failed} failed"
[ "$status" -eq 0 ] && [ "$bg_status" -eq 0 ]
