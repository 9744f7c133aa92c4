#!/usr/bin/env bash
# Register happyhorse-mcp with Claude Code (user scope), run from this checkout with uv, passing your fal key from
# the environment. A project can instead commit examples/claude-code/.mcp.json at its root.
# Once happyhorse-mcp is on PyPI (it is not yet), `-- uvx happyhorse-mcp` will do without a checkout.
set -euo pipefail
: "${FAL_KEY:?set FAL_KEY first (https://fal.ai/dashboard/keys)}"
checkout="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
claude mcp add happyhorse --scope user --env FAL_KEY="$FAL_KEY" -- uvx --from "$checkout" happyhorse-mcp
