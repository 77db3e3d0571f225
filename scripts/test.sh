#!/usr/bin/env bash
# `npm test`: set up, then run the whole suite against a real Temporal dev server.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup.sh"
# Lint is part of the suite: it guards workflow determinism and floating promises.
npx eslint . >&2
exec node --test --test-concurrency=1 --test-reporter=spec "$root"/dist/test/*.test.js
