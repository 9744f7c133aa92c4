"""The per-client session quota in front of the SDK's HTTP app, on a stand-in app and a clock the test moves."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from happyhorse_mcp.transport.sessions import SessionQuota

pytestmark = pytest.mark.anyio


class Sessions:
    """Stands in for the SDK's app: a POST without a session opens one; a DELETE ends it; others answer 200."""

    def __init__(self) -> None:
        self.numbers = itertools.count(1)
        self.open: set[str] = set()
        self.deleted: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = dict(scope["headers"])
        session = headers.get(b"mcp-session-id", b"").decode()
        status, extra = 200, []
        if scope["method"] == "POST" and not session:
            session = f"s{next(self.numbers)}"
            self.open.add(session)
            extra = [(b"mcp-session-id", session.encode())]
        elif scope["method"] == "DELETE":
            self.open.discard(session)
            self.deleted.append(session)
        elif session not in self.open:
            status = 404
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": b""})


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _client(app: Any, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app, client=(address, 1)), base_url="http://t")


async def test_a_client_at_its_limit_gives_up_its_least_recently_used_session_and_others_are_untouched() -> None:
    sessions = Sessions()
    quota = SessionQuota(sessions, path="/mcp", per_client=2, idle_seconds=600, stream_seconds=300, clock=Clock())
    async with _client(quota, "10.0.0.1") as one, _client(quota, "10.0.0.2") as other:
        first = (await one.post("/mcp")).headers["mcp-session-id"]
        await one.post("/mcp")
        theirs = (await other.post("/mcp")).headers["mcp-session-id"]
        third = await one.post("/mcp")
    assert third.status_code == 200
    assert sessions.deleted == [first]
    assert theirs in sessions.open
    assert quota.open_sessions(quota_client("10.0.0.1")) == 2


def quota_client(address: str) -> str:
    from starlette.datastructures import Headers

    from happyhorse_mcp.transport.sessions import _client_of

    return _client_of({"client": (address, 1)}, Headers(raw=[]))


async def test_sessions_idle_past_the_limit_are_no_longer_counted() -> None:
    clock = Clock()
    quota = SessionQuota(Sessions(), path="/mcp", per_client=1, idle_seconds=10, stream_seconds=300, clock=clock)
    async with _client(quota, "10.0.0.3") as client:
        await client.post("/mcp")
        assert quota.open_sessions(quota_client("10.0.0.3")) == 1
        clock.now = 11
        assert quota.open_sessions(quota_client("10.0.0.3")) == 0


async def test_a_session_the_server_no_longer_knows_is_forgotten() -> None:
    sessions = Sessions()
    quota = SessionQuota(sessions, path="/mcp", per_client=4, idle_seconds=600, stream_seconds=300, clock=Clock())
    async with _client(quota, "10.0.0.4") as client:
        opened = (await client.post("/mcp")).headers["mcp-session-id"]
        sessions.open.discard(opened)  # the SDK closed it
        assert (await client.post("/mcp", headers={"mcp-session-id": opened})).status_code == 404
    assert quota.open_sessions(quota_client("10.0.0.4")) == 0
