#!/usr/bin/env bash
# Register happyhorse-mcp with Claude Code (user scope), passing your fal key from the environment.
# Run from the repository root after: python3 -m venv .venv && .venv/bin/pip install -e .
set -euo pipefail
: "${FAL_KEY:?set FAL_KEY first (https://fal.ai/dashboard/keys)}"
claude mcp add happyhorse --scope user --env FAL_KEY="$FAL_KEY" -- "$(pwd)/.venv/bin/happyhorse-mcp"
