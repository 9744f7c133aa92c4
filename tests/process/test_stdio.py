"""The installed server over stdio, driven by the SDK's client, against the fake fal on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp.types import ResourceLink

from happyhorse_mcp.server.tools import tool_definitions

from ..fakefal import VALID_KEY, FakeFal
from ..prices import usd
from ..support import stdio_server

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]

# A killed server's jobs are taken over once its leases lapse: 1 s here (6 s by default).
QUICK = {"HAPPYHORSE_LEASE_SECONDS": "1"}


_server = stdio_server


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_a_video_over_stdio_reports_progress_structured_output_and_a_resource_link(
    fake: FakeFal, fal_url: str, tmp_path: Path, mode: str
) -> None:
    fake.hold = True
    fake.initial_queue_position = 2
    messages: list[str | None] = []
    first_progress = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message)
        first_progress.set()

    stderr_path = tmp_path / "stderr.log"
    results: list[Any] = []
    with stderr_path.open("w") as stderr:
        transport = stdio_client(_server(fal_url, tmp_path / "data"), errlog=stderr)
        async with Client(transport, mode=mode) as client, anyio.create_task_group() as tg:

            async def call() -> None:
                arguments = {"prompt": "a white horse, static camera", "duration": 3, "resolution": "720p"}
                results.append(await client.call_tool("generate_video", arguments, progress_callback=on_progress))

            tg.start_soon(call)
            with anyio.fail_after(30):
                await first_progress.wait()
            fake.start(fake.submits[0].request_id)
            fake.complete(fake.submits[0].request_id)

    result = results[0]
    assert not result.is_error
    assert result.structured_content["status"] == "completed"
    assert result.structured_content["cost_usd"] == usd(duration=3, resolution="720p")
    links = [c for c in result.content if isinstance(c, ResourceLink)]
    assert links
    assert str(links[0].uri) == f"happyhorse://jobs/{result.structured_content['job_id']}/video"
    assert result.structured_content["video"]["url"] in result.content[0].text
    assert any(m and "Queued at fal (position 2)" in m for m in messages)
    logs = stderr_path.read_text()
    assert "submitted to alibaba/happy-horse/text-to-video" in logs
    assert VALID_KEY not in logs
    assert "fake-key-secret" not in logs


async def test_estimate_cost_over_stdio_without_a_key(fake: FakeFal, fal_url: str, tmp_path: Path) -> None:
    params = _server(fal_url, tmp_path / "data")
    assert params.env is not None
    params.env.pop("FAL_KEY")
    with (tmp_path / "stderr.log").open("w") as stderr:
        async with Client(stdio_client(params, errlog=stderr), mode="legacy") as client:
            tools = await client.list_tools()
            estimate = await client.call_tool("estimate_cost", {"operation": "text-to-video", "duration": 15})
            refused = await client.call_tool("generate_video", {"prompt": "a horse"})
    assert {tool.name for tool in tools.tools} == {tool.name for tool in tool_definitions()} - {"fal_key"}
    assert estimate.structured_content is not None
    assert estimate.structured_content["usd"] == 4.2
    assert refused.is_error
    assert "FAL_KEY" in refused.content[0].text  # type: ignore[union-attr]
    assert fake.requests == []


async def test_jobs_survive_a_sigkill_of_the_server_and_each_result_is_fetched_after_restart(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    import os
    import re
    import signal

    fake.hold = True
    data = tmp_path / "data"
    first_log = tmp_path / "first.log"
    job_ids: list[str] = []
    with first_log.open("w") as stderr, pytest.RaisesGroup(MCPError, flatten_subgroups=True):
        async with Client(stdio_client(_server(fal_url, data, **QUICK), errlog=stderr), mode="legacy") as client:
            for n in range(3):
                started = await client.call_tool("generate_video", {"prompt": f"shot {n}", "wait_seconds": 0})
                assert started.structured_content is not None
                job_ids.append(started.structured_content["job_id"])
            pid = int(re.findall(r"\(pid (\d+)\)", first_log.read_text())[0])
            os.kill(pid, signal.SIGKILL)
            await client.call_tool("list_jobs", {})
    assert len(fake.submits) == 3
    for job in fake.submits:
        fake.complete(job.request_id)

    with (tmp_path / "second.log").open("w") as stderr:
        async with Client(stdio_client(_server(fal_url, data, **QUICK), errlog=stderr), mode="legacy") as client:
            with anyio.fail_after(30):
                finals = [await client.call_tool("get_job", {"job_id": j, "wait_seconds": 20}) for j in job_ids]
    assert [f.structured_content["status"] for f in finals if f.structured_content] == ["completed"] * 3
    assert len(fake.submits) == 3


async def test_two_servers_on_one_data_dir_share_jobs_keys_and_budget_and_one_takes_over_when_the_other_is_killed(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    import os
    import re
    import signal

    fake.hold = True
    data = tmp_path / "data"
    # A day's budget for a 15 s clip: after a 5 s one, a 5 s and a 10 s one do not both fit.
    budget = usd(duration=15)
    env = {**QUICK, "HAPPYHORSE_DAILY_BUDGET_USD": str(budget), "HAPPYHORSE_CONFIRM_ABOVE_USD": "100"}
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    with a_log.open("w") as a_err, b_log.open("w") as b_err, pytest.RaisesGroup(MCPError, flatten_subgroups=True):
        async with (
            Client(stdio_client(_server(fal_url, data, **env), errlog=a_err), mode="legacy") as a,
            Client(stdio_client(_server(fal_url, data, **env), errlog=b_err), mode="legacy") as b,
        ):
            call = {"prompt": "a horse", "wait_seconds": 0, "idempotency_key": "shared"}
            on_a = (await a.call_tool("generate_video", call)).structured_content
            on_b = (await b.call_tool("generate_video", call)).structured_content
            assert on_a is not None
            assert on_b is not None
            assert on_b["job_id"] == on_a["job_id"], "one key, one job, whichever server is asked"

            results: list[Any] = []

            async def spend(client: Client, duration: int) -> None:
                made = await client.call_tool(
                    "generate_video", {"prompt": "x", "duration": duration, "wait_seconds": 0}
                )
                results.append(made)

            async with anyio.create_task_group() as tg:  # a 5 s and a 10 s clip at once; the 10 s one's price is left
                tg.start_soon(spend, a, 5)
                tg.start_soon(spend, b, 10)
            admitted = [r.structured_content for r in results if not r.is_error]
            assert len(admitted) == 1, "the two servers together never pass the daily budget"

            pid = int(re.findall(r"\(pid (\d+)\)", a_log.read_text())[0])
            os.kill(pid, signal.SIGKILL)
            for job in fake.submits:
                fake.complete(job.request_id)
            with anyio.fail_after(30):
                for job_id in {on_a["job_id"], *(job["job_id"] for job in admitted)}:
                    final = await b.call_tool("get_job", {"job_id": job_id, "wait_seconds": 20})
                    assert final.structured_content is not None
                    assert final.structured_content["status"] == "completed"
            assert len(fake.submits) == 2, "each job submitted once"
            assert fake.calls("result") == 2, "each job followed to its result by one server"
            await a.call_tool("list_jobs", {})  # A is gone: its client fails
