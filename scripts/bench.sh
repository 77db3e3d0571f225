#!/usr/bin/env bash
# `npm run bench`: set up like `npm test`, then run the benchmarks (table on stdout, bench/results.json).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup.sh"
node "$root/dist/bench/index.js" "$@"
