#!/usr/bin/env bash
# Register happyhorse-mcp with Claude Code (user scope), passing your fal key from the environment.
# A project can instead commit examples/claude-code/.mcp.json at its root.
set -euo pipefail
: "${FAL_KEY:?set FAL_KEY first (https://fal.ai/dashboard/keys)}"
claude mcp add happyhorse --scope user --env FAL_KEY="$FAL_KEY" -- uvx happyhorse-mcp
