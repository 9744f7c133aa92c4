"""An output folder the server may not write: `check` says so and the server refuses every generation before
anything is paid. The folder is made read-only for the server alone, in a mount namespace of its own (root may
write anywhere else), so the refusal is the operating system's, as a user would meet it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from ..fakefal import VALID_KEY, FakeFal
from ..support import text_of

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.real_sockets,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root for a mount namespace"),
]


def _read_only(folder: Path, *command: str) -> list[str]:
    """`command`, run with `folder` mounted read-only for it alone."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(folder), *command]


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    folder = tmp_path / "shared"
    folder.mkdir()
    return folder


def _env(fal_url: str, output: Path, data: Path) -> dict[str, str]:
    return {
        "FAL_KEY": VALID_KEY,
        "HAPPYHORSE_FAL_QUEUE_URL": fal_url,
        "HAPPYHORSE_FAL_REST_URL": fal_url,
        "HAPPYHORSE_FAL_CDN_URL": fal_url,
        "HAPPYHORSE_DATA_DIR": str(data),
        "HAPPYHORSE_OUTPUT_DIR": str(output),
        "HAPPYHORSE_ALLOWED_DIRS": str(output.parent),
        "PATH": os.environ.get("PATH", ""),
    }


async def test_check_says_an_output_folder_that_cannot_be_made_is_not_ready(
    shared: Path, fal_url: str, tmp_path: Path
) -> None:
    output = shared / "videos"
    with anyio.fail_after(60):
        done = await anyio.run_process(
            _read_only(shared, sys.executable, "-m", "happyhorse_mcp", "check", "--offline"),
            env=_env(fal_url, output, tmp_path / "data"),
            check=False,
        )
    out = done.stdout.decode()
    assert done.returncode == 1, out + done.stderr.decode()
    assert f"NOT usable: this server may not write in {shared} (to make {output}): a read-only disk" in out
    assert "verdict: NOT ready" in out


async def test_a_generation_that_could_not_be_saved_is_refused_before_anything_is_paid(
    shared: Path, fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    command = _read_only(shared, sys.executable, "-m", "happyhorse_mcp")
    params = StdioServerParameters(
        command=command[0], args=command[1:], env=_env(fal_url, shared / "videos", tmp_path / "data")
    )
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            result = await client.call_tool("generate_video", {"prompt": "a horse", "duration": 3})
            saved_to = await client.call_tool(
                "generate_video", {"prompt": "a horse", "duration": 3, "save_to": str(shared / "clip.mp4")}
            )
    assert result.is_error
    assert "HAPPYHORSE_OUTPUT_DIR: this server may not write in" in text_of(result)
    assert saved_to.is_error
    assert f"save_to: this server may not write in {shared}: a read-only disk" in text_of(saved_to)
    assert fake.requests == []
    assert "generation calls are refused until that is fixed" in (tmp_path / "stderr.log").read_text()
