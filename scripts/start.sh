#!/usr/bin/env bash
# `npm start`: set up, then run the MCP server (stdio, embedded Temporal dev server by default).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup.sh"
exec node "$root/dist/src/cli.js" "$@"
