"""A film survives a SIGKILL of its server, whether its shots were running or it was being assembled: a server
started again on the same data dir takes it over, follows the shots still running, makes the rest, assembles it, and
never submits a shot twice."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from ..fakefal import FakeFal
from ..support import stdio_server

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]


def _server(fal_url: str, data: Path) -> Any:
    # A killed server's film is taken over after 1 s; no question asked before a film is made.
    return stdio_server(fal_url, data, HAPPYHORSE_LEASE_SECONDS="1", HAPPYHORSE_CONFIRM_ABOVE_USD="100")


async def _film_until(client: Client, film_id: str, ready: Any) -> dict[str, Any]:
    """The film once `ready(film)`, waited for through get_job (it wakes on every change of the film)."""
    with anyio.fail_after(60):
        while True:
            film: dict[str, Any] | None = (
                await client.call_tool("get_job", {"job_id": film_id, "wait_seconds": 1})
            ).structured_content
            assert film is not None
            if ready(film):
                return film


def _kill(log: Path) -> None:
    os.kill(int(re.findall(r"\(pid (\d+)\)", log.read_text())[0]), signal.SIGKILL)


async def _finish_after_restart(fal_url: str, data: Path, log: Path, film_id: str) -> dict[str, Any]:
    with log.open("w") as stderr:
        async with Client(stdio_client(_server(fal_url, data), errlog=stderr), mode="legacy") as client:
            with anyio.fail_after(60):
                final = await client.call_tool("get_job", {"job_id": film_id, "wait_seconds": 50})
    film: dict[str, Any] | None = final.structured_content
    assert film is not None
    return film


async def test_a_film_killed_while_its_shots_run_is_finished_after_a_restart_without_paying_a_shot_twice(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    fake.real_clips = True
    fake.hold = True
    data, first_log = tmp_path / "data", tmp_path / "first.log"
    shots = [
        {"prompt": "a mare at the water", "duration": 3},
        {"prompt": "she gallops", "duration": 3, "continue_from_previous": True},
        {"prompt": "gulls over the waves", "duration": 3},
    ]
    with first_log.open("w") as stderr, pytest.RaisesGroup(MCPError, flatten_subgroups=True):
        async with Client(stdio_client(_server(fal_url, data), errlog=stderr), mode="legacy") as client:
            started = await client.call_tool(
                "make_film", {"shots": shots, "resolution": "720p", "transition": "cut", "wait_seconds": 0}
            )
            assert started.structured_content is not None, started.content
            film_id = started.structured_content["job_id"]
            first = await _film_until(client, film_id, lambda film: film["film"]["shots"][0]["job_id"])
            opening = next(job for job in fake.submits if job.arguments["prompt"] == shots[0]["prompt"])
            fake.complete(opening.request_id)  # the first shot is made; the second continues from it
            await _film_until(client, film_id, lambda film: film["film"]["shots"][1]["job_id"])
            assert len(fake.submits) == 3
            _kill(first_log)
            await client.call_tool("list_jobs", {})
    for job in fake.submits:  # fal finishes the shots while no server runs
        fake.complete(job.request_id)

    film = await _finish_after_restart(fal_url, data, tmp_path / "second.log", film_id)

    assert film["status"] == "completed", film
    assert len(fake.submits) == 3, "no shot submitted twice"
    assert film["film"]["shots"][0]["job_id"] == first["film"]["shots"][0]["job_id"]
    assert film["video"]["duration"] == pytest.approx(9, abs=0.05)
    assert "making film" in (tmp_path / "second.log").read_text()


async def test_a_film_killed_while_it_is_assembled_is_assembled_again_after_a_restart(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    fake.real_clips = True
    fake.hold_downloads = True  # the assembly fetches the clips, and cannot end before the kill
    data, first_log = tmp_path / "data", tmp_path / "first.log"
    shots = [{"prompt": f"shot {n}", "duration": 3} for n in range(2)]
    with first_log.open("w") as stderr, pytest.RaisesGroup(MCPError, flatten_subgroups=True):
        async with Client(stdio_client(_server(fal_url, data), errlog=stderr), mode="legacy") as client:
            started = await client.call_tool("make_film", {"shots": shots, "resolution": "720p", "wait_seconds": 0})
            assert started.structured_content is not None, started.content
            film_id = started.structured_content["job_id"]
            await _film_until(client, film_id, lambda film: film["film"]["phase"] != "shots")
            _kill(first_log)
            await client.call_tool("list_jobs", {})
    assert f"film {film_id} completed" not in first_log.read_text(), "killed before the assembly ended"
    fake.release_downloads()

    film = await _finish_after_restart(fal_url, data, tmp_path / "second.log", film_id)

    assert film["status"] == "completed", film
    assert len(fake.submits) == 2, "no shot submitted again"
    assert film["video"]["duration"] == pytest.approx(6 - 0.5, abs=1 / 24)
    assert film["local_file"]["size"] > 0
