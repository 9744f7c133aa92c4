"""Reading a request's body ahead of the app, for the middlewares that must look at it (or change it) first."""

from __future__ import annotations

from starlette.types import Message, Receive

# A JSON-RPC request is small; one larger than this is read no further here (the SDK refuses it anyway).
MAX_PEEK_BYTES = 4 * 1024 * 1024


async def peek(receive: Receive) -> tuple[bytes, Receive]:
    """The request body (cut short past MAX_PEEK_BYTES), and a `receive` that hands it on unchanged to the app."""
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False) or len(body) > MAX_PEEK_BYTES:
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


def complete(body: bytes) -> bool:
    """Whether `peek` read the whole body."""
    return len(body) <= MAX_PEEK_BYTES
