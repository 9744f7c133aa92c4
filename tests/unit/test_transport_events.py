"""The bounded event store behind resumable HTTP streams: ids in order, replay of what a stream missed, nothing of
another stream's, and old events let go."""

from __future__ import annotations

import pytest
from mcp.types import JSONRPCNotification

from happyhorse_mcp.transport.events import BoundedEventStore

pytestmark = pytest.mark.anyio


def _note(n: int) -> JSONRPCNotification:
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params={"progress": n})


async def test_a_stream_that_dropped_is_sent_what_it_missed_and_nothing_of_another_stream() -> None:
    store = BoundedEventStore()
    first = await store.store_event("a", _note(1))
    await store.store_event("b", _note(2))
    missed = await store.store_event("a", _note(3))
    sent: list[tuple[str | None, object]] = []

    async def send(event: object) -> None:
        sent.append((event.event_id, event.message.params["progress"]))  # type: ignore[attr-defined]

    assert await store.replay_events_after(first, send) == "a"
    assert sent == [(missed, 3)]


async def test_an_event_too_old_to_replay_is_said_unknown() -> None:
    store = BoundedEventStore(max_events=2)
    oldest = await store.store_event("a", _note(1))
    await store.store_event("a", _note(2))
    await store.store_event("a", _note(3))

    async def send(event: object) -> None:
        raise AssertionError("nothing is replayed after an event the store let go")

    assert await store.replay_events_after(oldest, send) is None
