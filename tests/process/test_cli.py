"""What a person running the server by hand sees: that it waits for a client, a quiet exit, warnings that matter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def _env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "HAPPYHORSE_DATA_DIR": str(tmp_path / "data")}


@pytest.mark.parametrize(
    "stdin",
    [{"input": ""}, {"stdin": subprocess.DEVNULL}],
    ids=["a-pipe-closed-at-once", "the-null-device-of-a-service-or-container"],
)
def test_the_stdio_server_says_it_waits_for_a_client_and_exits_quietly_when_stdin_closes(
    tmp_path: Path, stdin: dict[str, Any]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "happyhorse_mcp"],
        **stdin,
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert "waiting for an MCP client on stdin" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert done.returncode == 0


def test_the_log_can_also_go_to_a_file_the_user_names_and_never_shows_the_key(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "happyhorse-mcp.log"
    done = subprocess.run(
        [sys.executable, "-m", "happyhorse_mcp"],
        input="",
        capture_output=True,
        text=True,
        env={
            **_env(tmp_path),
            "HAPPYHORSE_LOG_FILE": "~/logs/happyhorse-mcp.log",
            "FAL_KEY": "key-id:the-secret-part",
            "HAPPYHORSE_ALLOWED_DIRS": "~/Pictures",
        },
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    written = log.read_text()
    assert "waiting for an MCP client on stdin" in written
    assert f"HAPPYHORSE_ALLOWED_DIRS names {tmp_path / 'Pictures'}, which does not exist" in written
    assert "the-secret-part" not in written + done.stderr
