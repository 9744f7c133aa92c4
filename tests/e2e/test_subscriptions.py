"""A client subscribed to a job's URI hears when the job changes state, on both protocol eras."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import ResourceUpdatedNotification

from happyhorse_mcp.server import HappyHorseServer

from ..fakefal import FakeFal

pytestmark = pytest.mark.anyio


async def test_a_handshake_era_subscriber_gets_resources_updated_on_each_state_change(
    server: HappyHorseServer, fake: FakeFal
) -> None:
    fake.hold = True
    updates: list[str] = []
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        nonlocal changed
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            changed.set()

    async with Client(server, mode="legacy", message_handler=on_message) as client:
        assert client.server_capabilities.resources is not None
        assert client.server_capabilities.resources.subscribe
        started = await client.call_tool("generate_video", {"prompt": "a horse", "wait_seconds": 0})
        assert started.structured_content is not None
        uri = started.structured_content["resource_uri"]
        with pytest.warns(MCPDeprecationWarning):  # deprecated only for 2026-07-28, which this client is not on
            await client.session.subscribe_resource(uri)

        fake.start(fake.submits[0].request_id)
        with anyio.fail_after(5):
            await changed.wait()
        changed = anyio.Event()
        fake.complete(fake.submits[0].request_id)
        with anyio.fail_after(5):
            await changed.wait()

    assert updates == [uri, uri]


async def test_a_stateless_era_listener_gets_resource_updated_events(server: HappyHorseServer, fake: FakeFal) -> None:
    fake.hold = True
    async with Client(server, mode="2026-07-28") as client:
        started = await client.call_tool("generate_video", {"prompt": "a horse", "wait_seconds": 0})
        assert started.structured_content is not None
        uri = started.structured_content["resource_uri"]
        async with client.listen(resource_subscriptions=[uri]) as subscription:
            fake.complete(fake.submits[0].request_id)
            with anyio.fail_after(5):
                event = await subscription.__anext__()
    assert getattr(event, "uri", None) == uri


async def test_job_ids_complete_for_the_job_resource_template(client: Client) -> None:
    from mcp.types import ResourceTemplateReference

    made = await client.call_tool("generate_video", {"prompt": "a horse"})
    assert made.structured_content is not None
    job_id = made.structured_content["job_id"]
    ref = ResourceTemplateReference(type="ref/resource", uri="happyhorse://jobs/{job_id}")
    completed = await client.complete(ref, {"name": "job_id", "value": job_id[:5]})
    assert job_id in completed.completion.values
    none = await client.complete(ref, {"name": "job_id", "value": "zz"})
    assert none.completion.values == []


async def test_only_resources_that_exist_can_be_subscribed_to(server: HappyHorseServer) -> None:
    from mcp.shared.exceptions import MCPError

    async with Client(server, mode="legacy") as client:
        for made_up in ("happyhorse://jobs/hh_0000000000000000", "file:///etc/shadow", "happyhorse://nothing"):
            with pytest.warns(MCPDeprecationWarning), pytest.raises(MCPError, match="No resource"):
                await client.session.subscribe_resource(made_up)
    assert server.notifier is not None
    assert server.notifier.subscriptions == 0


async def test_a_connection_s_subscriptions_go_when_it_closes(server: HappyHorseServer, fake: FakeFal) -> None:
    assert server.notifier is not None
    async with Client(server, mode="legacy") as client:
        started = await client.call_tool("generate_video", {"prompt": "a horse", "wait_seconds": 0})
        assert started.structured_content is not None
        with pytest.warns(MCPDeprecationWarning):
            await client.session.subscribe_resource(started.structured_content["resource_uri"])
        with pytest.warns(MCPDeprecationWarning):
            await client.session.subscribe_resource("happyhorse://spend")
        assert server.notifier.subscriptions == 2
    assert server.notifier.subscriptions == 0
