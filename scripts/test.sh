#!/usr/bin/env bash
# `npm test`: set up, then run the whole suite against a real Temporal dev server.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup.sh"
# Lint is part of the suite: it guards workflow determinism and floating promises.
npx eslint . >&2
tap="$(mktemp)"
set +e
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "$root"/dist/test/*.test.js
status=$?
set -e
passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -1)
failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -1)
rm -f "$tap"
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
