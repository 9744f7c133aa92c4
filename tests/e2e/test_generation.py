"""The generation tools end to end against the fake fal: submit, follow, result, progress, resources."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import ResourceLink, TextContent, TextResourceContents

from happyhorse_mcp.config import Settings
from happyhorse_mcp.domain.budget import SpendLimits
from happyhorse_mcp.server import HappyHorseServer

from ..fakefal import FakeFal
from ..prices import usd
from ..support import text_of

pytestmark = pytest.mark.anyio

IMAGE = "https://example.com/first-frame.png"
VIDEO = "https://example.com/source.mp4"

CALLS: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    (
        "generate_video",
        {"prompt": "a horse on a beach, slow dolly-in", "duration": 4, "resolution": "720p", "aspect_ratio": "9:16"},
        "alibaba/happy-horse/text-to-video",
        {"prompt": "a horse on a beach, slow dolly-in", "duration": 4, "resolution": "720p", "aspect_ratio": "9:16"},
    ),
    (
        "image_to_video",
        {"image_url": IMAGE, "prompt": "the horse turns its head", "seed": 7, "version": "1.1"},
        "alibaba/happy-horse/v1.1/image-to-video",
        {"image_url": IMAGE, "prompt": "the horse turns its head", "seed": 7, "duration": 5, "resolution": "1080p"},
    ),
    (
        "reference_to_video",
        {"prompt": "character1 rides character2", "image_urls": [IMAGE, "data:image/png;base64,AAAA"]},
        "alibaba/happy-horse/reference-to-video",
        {"prompt": "character1 rides character2", "image_urls": [IMAGE, "data:image/png;base64,AAAA"]},
    ),
    (
        "edit_video",
        {
            "video_url": VIDEO,
            "prompt": "replace the rider with @Image1",
            "reference_image_urls": [IMAGE],
            "source_duration": 5,
        },
        "alibaba/happy-horse/video-edit",
        {"video_url": VIDEO, "prompt": "replace the rider with @Image1", "reference_image_urls": [IMAGE]},
    ),
]


@pytest.mark.parametrize(("tool", "arguments", "endpoint", "sent"), CALLS, ids=[c[0] for c in CALLS])
async def test_each_generation_tool_submits_to_its_endpoint_and_returns_the_video(
    client: Client, fake: FakeFal, tool: str, arguments: dict[str, Any], endpoint: str, sent: dict[str, Any]
) -> None:
    result = await client.call_tool(tool, arguments)

    assert not result.is_error, result.content
    assert [job.endpoint_id for job in fake.submits] == [endpoint]
    assert sent.items() <= fake.submits[0].arguments.items()
    assert "seed" in fake.submits[0].arguments or "seed" not in arguments
    out = result.structured_content
    assert out is not None
    assert out["status"] == "completed"
    assert out["endpoint"] == endpoint
    assert out["fal_request_id"] == fake.submits[0].request_id
    assert out["video"]["url"].endswith("/output.mp4")
    assert out["video"]["content_type"] == "video/mp4"
    assert out["resource_uri"] == f"happyhorse://jobs/{out['job_id']}"
    links = [c for c in result.content if isinstance(c, ResourceLink)]
    video = f"happyhorse://jobs/{out['job_id']}/video"
    assert [(str(link.uri), link.mime_type) for link in links] == [(video, "video/mp4")]
    (read,) = (await client.read_resource(video)).contents  # the link is one this server serves
    assert read.mime_type == "video/mp4"
    assert isinstance(result.content[0], TextContent)
    assert "Video ready" in result.content[0].text


async def test_text_to_video_cost_is_the_price_table_figure(client: Client) -> None:
    price = usd(duration=15)
    result = await client.call_tool("generate_video", {"prompt": "waves", "duration": 15, "max_cost_usd": price})
    assert result.structured_content is not None
    assert result.structured_content["cost_usd"] == price


async def test_edit_cost_is_known_from_the_output_length_when_below_the_cap(settings: Settings) -> None:
    from ..support import make_server

    roomy = dataclasses.replace(settings, limits=SpendLimits(max_usd_per_job=25.0))
    async with Client(make_server(roomy)) as client:
        result = await client.call_tool(
            "edit_video", {"video_url": VIDEO, "prompt": "make it night", "max_cost_usd": 21.0}
        )
    assert result.structured_content is not None
    # Budgeted at the longest source (60 s in, 15 s out); the fake's output lasts 5 s, so the source did too and
    # the bill is for 5 s in and 5 s out.
    assert result.structured_content["cost_usd"] == usd("edit_video", source_duration=5)


async def test_progress_notifications_follow_the_job_from_queue_to_result(
    server: HappyHorseServer, fake: FakeFal
) -> None:
    fake_events: list[tuple[float, str | None]] = []
    seen = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        fake_events.append((progress, message))
        seen.set()

    fake.hold = True
    fake.initial_queue_position = 3
    async with Client(server) as client, anyio.create_task_group() as tg:
        results: list[Any] = []

        async def call() -> None:
            results.append(
                await client.call_tool("generate_video", {"prompt": "a foal"}, progress_callback=on_progress)
            )

        tg.start_soon(call)
        with anyio.fail_after(5):
            await seen.wait()
        assert fake_events[0][1] is not None
        assert "Queued at fal (position 3)" in fake_events[0][1]
        seen = anyio.Event()
        fake.start(fake.submits[0].request_id)
        with anyio.fail_after(5):
            while not any(m and "Generating" in m for _, m in fake_events):
                await seen.wait()
                seen = anyio.Event()
        fake.complete(fake.submits[0].request_id)

    assert results[0].structured_content["status"] == "completed"
    progress_values = [p for p, _ in fake_events]
    assert progress_values == sorted(progress_values)


async def test_a_job_longer_than_wait_seconds_returns_running_and_get_job_finishes_it(
    client: Client, fake: FakeFal
) -> None:
    fake.hold = True
    first = await client.call_tool("generate_video", {"prompt": "a herd at dusk", "wait_seconds": 0})

    assert not first.is_error
    out = first.structured_content
    assert out is not None
    assert out["status"] == "queued"
    assert "get_job" in out["next_step"]
    assert not [c for c in first.content if isinstance(c, ResourceLink)]

    fake.start(fake.submits[0].request_id)
    fake.complete(fake.submits[0].request_id)
    with anyio.fail_after(5):
        final = await client.call_tool("get_job", {"job_id": out["job_id"], "wait_seconds": 30})
    assert final.structured_content is not None
    assert final.structured_content["status"] == "completed"
    assert len(fake.submits) == 1


async def test_the_job_is_followed_to_the_end_when_nobody_waits(server: HappyHorseServer, fake: FakeFal) -> None:
    fake.hold = True
    async with Client(server) as client:
        first = await client.call_tool("generate_video", {"prompt": "a pony", "wait_seconds": 0})
        assert first.structured_content is not None
        job_id = first.structured_content["job_id"]
        fake.complete(fake.submits[0].request_id)
        assert server.state is not None
        with anyio.fail_after(5):
            job = await (await server.state.backend()).runner.wait(job_id, 30)
        assert job.status == "completed"
        # fal's result was fetched by the background watcher, not by a client call.
        assert fake.calls("result") == 1
        again = await client.call_tool("get_job", {"job_id": job_id})
        assert again.structured_content is not None
        assert again.structured_content["video"] is not None
        assert fake.calls("result") == 1


async def test_a_client_that_cancels_the_call_only_stops_waiting(server: HappyHorseServer, fake: FakeFal) -> None:
    fake.hold = True
    waiting = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        waiting.set()

    async with Client(server) as client:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool("generate_video", {"prompt": "a mare"}, progress_callback=on_progress)

            tg.start_soon(call)
            with anyio.fail_after(5):
                await waiting.wait()
            tg.cancel_scope.cancel()

        assert server.state is not None
        fake.complete(fake.submits[0].request_id)
        (job,) = await (await server.state.backend()).runner.recent()
        with anyio.fail_after(5):
            job = await (await server.state.backend()).runner.wait(job.job_id, 30)
        assert job.status == "completed"
        assert len(fake.submits) == 1


async def test_cancel_job_cancels_a_queued_job_at_fal(client: Client, fake: FakeFal) -> None:
    fake.hold = True
    first = await client.call_tool("generate_video", {"prompt": "a colt", "wait_seconds": 0})
    assert first.structured_content is not None
    job_id = first.structured_content["job_id"]

    cancelled = await client.call_tool("cancel_job", {"job_id": job_id})
    assert not cancelled.is_error
    with anyio.fail_after(5):
        final = await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 30})

    assert fake.calls("cancel") == 1
    assert fake.submits[0].cancelled
    assert final.structured_content is not None
    assert final.structured_content["status"] == "cancelled"
    assert final.structured_content["cost_usd"] == 0


async def test_cancel_job_on_a_finished_job_leaves_it_as_it_is(client: Client, fake: FakeFal) -> None:
    done = await client.call_tool("generate_video", {"prompt": "a colt"})
    assert done.structured_content is not None
    again = await client.call_tool("cancel_job", {"job_id": done.structured_content["job_id"]})
    assert again.structured_content is not None
    assert again.structured_content["status"] == "completed"
    assert fake.calls("cancel") == 0


async def test_jobs_are_listed_and_readable_as_resources(client: Client) -> None:
    made = await client.call_tool("generate_video", {"prompt": "a carousel horse"})
    assert made.structured_content is not None
    uri = made.structured_content["resource_uri"]

    listed = await client.list_resources()
    assert uri in [str(r.uri) for r in listed.resources]
    templates = await client.list_resource_templates()
    assert "happyhorse://jobs/{job_id}" in [t.uri_template for t in templates.resource_templates]

    read = await client.read_resource(uri)
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "application/json"
    assert json.loads(content.text)["status"] == "completed"


async def test_reading_an_unknown_job_resource_is_a_not_found_error(client: Client) -> None:
    from mcp.shared.exceptions import MCPError

    with pytest.raises(MCPError) as caught:
        await client.read_resource("happyhorse://jobs/hh_doesnotexist")
    assert caught.value.error.code == -32602


async def test_a_job_outlives_the_server_that_started_it(
    server: HappyHorseServer, fake: FakeFal, settings: Settings
) -> None:
    from ..support import make_server

    fake.hold = True
    async with Client(server) as client:
        first = await client.call_tool("generate_video", {"prompt": "a horse", "wait_seconds": 0})
    assert first.structured_content is not None
    fake.complete(fake.submits[0].request_id)

    restarted = make_server(settings)
    async with Client(restarted) as client:
        with anyio.fail_after(5):
            final = await client.call_tool(
                "get_job", {"job_id": first.structured_content["job_id"], "wait_seconds": 30}
            )
    assert final.structured_content is not None
    assert final.structured_content["status"] == "completed"
    assert len(fake.submits) == 1


async def test_cancelling_a_finished_job_says_nothing_was_cancelled(client: Client, fake: FakeFal) -> None:
    made = await client.call_tool("generate_video", {"prompt": "a foal", "duration": 3})
    assert made.structured_content is not None
    cancelled = await client.call_tool("cancel_job", {"job_id": made.structured_content["job_id"]})
    text = cancelled.content[0].text  # type: ignore[union-attr]
    assert "nothing was cancelled" in text
    assert "completed" in text


async def test_cancelling_a_queued_job_says_what_may_still_be_billed(client: Client, fake: FakeFal) -> None:
    fake.hold = True
    made = await client.call_tool("generate_video", {"prompt": "a foal", "wait_seconds": 0})
    assert made.structured_content is not None
    cancelled = await client.call_tool("cancel_job", {"job_id": made.structured_content["job_id"]})
    text = cancelled.content[0].text  # type: ignore[union-attr]
    assert "not billed" in text
    assert "get_job" in text or "nothing was billed" in text


async def test_a_client_that_asked_for_no_progress_is_never_held_past_what_hosts_bear(
    server: HappyHorseServer, fake: FakeFal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from happyhorse_mcp.server.tools import _shared

    monkeypatch.setattr(_shared, "WAIT_WITHOUT_PROGRESS", 0.2)  # 50 s in earnest
    fake.hold = True
    async with Client(server) as client:
        started = await client.call_tool("generate_video", {"prompt": "a horse", "wait_seconds": 0})
        job_id = started.structured_content["job_id"]
        with anyio.fail_after(10):
            waited = await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 120})
    assert waited.structured_content["status"] == "queued"
    assert "waited 0.2 s of the 120 asked: the client asked for no progress updates" in text_of(waited)


async def test_a_client_that_asked_for_progress_waits_as_long_as_it_asked(
    server: HappyHorseServer, fake: FakeFal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from happyhorse_mcp.jobs import waiting
    from happyhorse_mcp.server.tools import _shared

    monkeypatch.setattr(_shared, "WAIT_WITHOUT_PROGRESS", 0.2)
    monkeypatch.setattr(waiting, "PROGRESS_INTERVAL_SECONDS", 0.3)  # so a second report comes after the 0.2 s cap
    fake.hold = True
    heard = anyio.Event()
    reports: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append(progress)
        if len(reports) == 2:
            heard.set()

    async with Client(server, mode="legacy") as client, anyio.create_task_group() as tg:  # a progress token
        started = await client.call_tool("generate_video", {"prompt": "a horse", "wait_seconds": 0})
        job_id = started.structured_content["job_id"]
        results: list[Any] = []

        async def wait() -> None:
            arguments = {"job_id": job_id, "wait_seconds": 120}
            results.append(await client.call_tool("get_job", arguments, progress_callback=on_progress))

        tg.start_soon(wait)
        with anyio.fail_after(10):
            await heard.wait()
            await anyio.wait_all_tasks_blocked()
            fake.complete(fake.submits[0].request_id)
    assert results[0].structured_content["status"] == "completed"
