#!/usr/bin/env bash
# `npm run pack:mcpb`: builds durable-agent-mcp.mcpb (an MCP Bundle for Claude Desktop) holding only
# what runs: the manifest, the compiled server, the workflow bundle and production dependencies.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/durable-agent-mcp.mcpb}"
[ -f "$root/dist/src/cli.js" ] && [ -f "$root/dist/workflow-bundle.js" ] || (cd "$root" && npm run build >&2)
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/dist"
cp "$root/manifest.json" "$root/package.json" "$root/package-lock.json" "$root/README.md" "$stage/"
cp -R "$root/dist/src" "$stage/dist/src"
cp "$root/dist/workflow-bundle.js" "$stage/dist/"
find "$stage/dist" -name '*.map' -delete
(cd "$stage" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >&2)
rm -f "$stage/package-lock.json"
"$root/node_modules/.bin/mcpb" pack "$stage" "$out" >&2
echo "$out"
