"""The examples name the real command and settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_the_claude_desktop_config_parses_and_starts_happyhorse_mcp_with_fal_key() -> None:
    config = json.loads((EXAMPLES / "claude_desktop_config.json").read_text())
    server = config["mcpServers"]["happyhorse"]
    assert server["command"].endswith("/bin/happyhorse-mcp")
    assert set(server["env"]) == {"FAL_KEY"}


def test_the_claude_code_line_registers_the_installed_command() -> None:
    script = (EXAMPLES / "claude_code.sh").read_text()
    assert "claude mcp add happyhorse" in script
    assert "--env FAL_KEY=" in script
    assert ".venv/bin/happyhorse-mcp" in script


def test_the_sdk_example_estimates_without_a_key(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "estimate_and_generate.py")],
        env={"HOME": str(tmp_path), "PATH": "", "HAPPYHORSE_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "USD 0.42 for text-to-video at 720p" in done.stdout
    assert "Set FAL_KEY" in done.stdout
