"""The sandbox, as a newcomer meets it: every host config of the documents and examples, with the key taken out and
HAPPYHORSE_SANDBOX=1 put in, starts the installed server in a network namespace of its own (nothing to reach, no
key), and the MCP Python SDK's client makes a video, a two-shot film and a review through it. The saved files are
real MP4s of the asked length and frame, with a video and an audio stream; every answer says "Sandbox"."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import av
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from ..support import text_of
from .test_host_configs import STDIO, _distinct

pytestmark = pytest.mark.anyio

SERVER = Path(sys.executable).with_name("happyhorse-mcp")  # the installed server, as a host starts it


def _isolated() -> list[str]:
    """Run the server where there is no network at all (a user and network namespace of its own), where the
    machine allows it; else as it is (the stand-in needs no network either way)."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "-rn"]
    return []


@asynccontextmanager
async def sandbox_server(env: dict[str, str], tmp_path: Path) -> AsyncIterator[Client]:
    command = [*_isolated(), str(SERVER)]
    host = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "HAPPYHORSE_DATA_DIR": str(tmp_path / "data"),
        **{name: value for name, value in env.items() if not name.startswith("FAL_")},
        "HAPPYHORSE_SANDBOX": "1",
    }
    params = StdioServerParameters(command=command[0], args=command[1:], env=host)
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            yield client


def _filled(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A config's variables with its folders made real (they name folders of the person's home)."""
    filled = {}
    for name, value in env.items():
        if name in ("HAPPYHORSE_ALLOWED_DIRS", "HAPPYHORSE_OUTPUT_DIR"):
            value = str(tmp_path / name.lower())
            Path(value).mkdir()
        filled[name] = value
    return filled


def _streams(path: Path) -> tuple[float, list[str], tuple[int, int]]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return (
            float(container.duration or 0) / av.time_base,
            sorted(stream.type for stream in container.streams),
            (video.codec_context.width, video.codec_context.height),
        )


@pytest.mark.parametrize(("where", "entry"), _distinct(STDIO), ids=[w for w, _ in _distinct(STDIO)])
async def test_each_host_config_in_its_sandbox_variant_makes_a_real_video_with_no_key_and_no_network(
    where: str, entry: dict[str, Any], tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    env = {**_filled(entry.get("env", {}), tmp_path), "HAPPYHORSE_ALLOWED_DIRS": str(folder)}
    async with sandbox_server(env, tmp_path) as client:
        made = await client.call_tool(
            "generate_video",
            {
                "prompt": "a grey horse on a misty beach",
                "duration": 3,
                "resolution": "720p",
                "aspect_ratio": "9:16",
                "save_to": str(folder / "horse.mp4"),
                "wait_seconds": 60,
            },
        )
    assert made.structured_content is not None, text_of(made)
    assert made.structured_content["status"] == "completed", text_of(made)
    assert made.structured_content["sandbox"] is True
    assert text_of(made).startswith("[Sandbox:")
    seconds, kinds, frame = _streams(folder / "horse.mp4")
    assert abs(seconds - 3) < 0.1
    assert kinds == ["audio", "video"]
    assert frame == (720, 1280)


async def test_a_two_shot_film_and_its_review_in_the_sandbox(tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    shots = [{"prompt": "a mare at the water", "duration": 3}, {"prompt": "she gallops", "duration": 3}]
    async with sandbox_server({"HAPPYHORSE_ALLOWED_DIRS": str(folder)}, tmp_path) as client:
        film = await client.call_tool(
            "make_film",
            {"shots": shots, "resolution": "720p", "save_to": str(folder / "film.mp4"), "wait_seconds": 120},
        )
        assert film.structured_content is not None, text_of(film)
        review = await client.call_tool("review_video", {"job_id": film.structured_content["job_id"]})
        listed = await client.call_tool("list_jobs", {})
    assert film.structured_content["status"] == "completed", text_of(film)
    assert text_of(film).startswith("[Sandbox:")
    seconds, kinds, frame = _streams(folder / "film.mp4")
    assert abs(seconds - 5.5) < 0.1, "two 3 s shots joined with a 0.5 s crossfade"
    assert kinds == ["audio", "video"]
    assert frame == (1280, 720)
    assert not review.is_error, text_of(review)
    assert "audible" in text_of(review)
    assert listed.structured_content is not None
    assert all(job["sandbox"] for job in listed.structured_content["jobs"])


def test_a_sandbox_asked_for_by_the_environment_refuses_to_start_beside_a_real_key(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "HAPPYHORSE_DATA_DIR": str(tmp_path / "data"),
        "HAPPYHORSE_SANDBOX": "1",
        "FAL_KEY": "real-key-id:real-key-secret",
    }
    refused = subprocess.run([str(SERVER)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 2
    assert "HAPPYHORSE_SANDBOX=1 is set and so is a real fal key (FAL_KEY)" in refused.stderr
    assert "real-key-secret" not in refused.stderr
