"""Server-sent events from fal's status stream, read with a cap on the size of one event.

Written here rather than with httpx-sse, whose line reader holds a line of any length in memory: one endless
event must not take the server's memory with it. An oversized event is a broken stream (the caller polls instead).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from ..domain.errors import ProtocolError

# fal's status events are a few KB (the status, queue position and recent logs).
MAX_EVENT_BYTES = 1024 * 1024


async def data_events(response: httpx.Response, max_bytes: int = MAX_EVENT_BYTES) -> AsyncIterator[str]:
    """The `data` of each event, its lines joined by newlines; comments (keep-alives) and empty events skipped."""
    if "text/event-stream" not in response.headers.get("content-type", ""):
        raise ProtocolError(
            f"fal's status stream is not an event stream (Content-Type {response.headers.get('content-type')!r})."
        )
    pending = b""
    data: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            line = line.removesuffix(b"\r")
            if not line:
                if data:
                    yield b"\n".join(data).decode("utf-8", errors="replace")
                data, size = [], 0
                continue
            field, _, value = line.partition(b":")
            if field == b"data":
                data.append(value.removeprefix(b" "))
                size += len(value)
        if size + len(pending) > max_bytes:
            raise ProtocolError(f"fal's status stream sent an event larger than {max_bytes} bytes; not read.")
    if data:
        yield b"\n".join(data).decode("utf-8", errors="replace")
