"""fal's status stream is read event by event, and an endless event stops the stream instead of filling memory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from happyhorse_mcp.domain.errors import ProtocolError
from happyhorse_mcp.fal.sse import data_events

pytestmark = pytest.mark.anyio


def stream(*chunks: bytes, content_type: str = "text/event-stream") -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return httpx.Response(200, headers={"content-type": content_type}, content=body())


async def events(response: httpx.Response, max_bytes: int = 1024) -> list[str]:
    return [data async for data in data_events(response, max_bytes)]


async def test_events_split_across_chunks_with_comments_and_crlf_are_read_whole() -> None:
    response = stream(b': keep-alive\r\n\r\ndata: {"status": ', b'"IN_QUEUE"}\r\n\r\ndata: a\ndata: b\n\n')
    assert await events(response) == ['{"status": "IN_QUEUE"}', "a\nb"]


async def test_an_event_without_its_closing_blank_line_is_still_delivered_at_the_end() -> None:
    assert await events(stream(b'data: {"status": "COMPLETED"}\n')) == ['{"status": "COMPLETED"}']


async def test_an_event_larger_than_the_cap_is_refused_before_it_is_held_whole() -> None:
    response = stream(b"data: " + b"x" * 600, b"x" * 600, b"x" * 600)
    with pytest.raises(ProtocolError, match="larger than 1024 bytes"):
        await events(response)


async def test_an_answer_that_is_not_an_event_stream_is_refused() -> None:
    with pytest.raises(ProtocolError, match="not an event stream"):
        await events(stream(b"{}", content_type="application/json"))
