"""W3C trace context sent as HTTP headers, for calls that carry none in `_meta`.

The SDK starts each request's span from `params._meta` alone; a client or gateway traced at the HTTP layer sends
`traceparent` (and `tracestate`, `baggage`) as headers instead, which the SDK never reads (its session's tasks do
not run in the HTTP request's context). This copies the headers into each JSON-RPC request of the body that has no
`traceparent` of its own, so the call, and the paid path beneath it, joins the caller's trace either way. `_meta`
wins when both are sent: it is the MCP caller's own word.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .bodies import complete, peek

# version-traceid-parentid-flags, lower-case hex; all-zero ids are invalid (W3C Trace Context, section 3.2).
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")


class TraceHeaders:
    def __init__(self, app: ASGIApp, *, path: str) -> None:
        self.app = app
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self._path:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        traceparent = headers.get("traceparent", "").strip()
        if not _TRACEPARENT.match(traceparent):
            await self.app(scope, receive, send)
            return
        body, receive = await peek(receive)
        context = {"traceparent": traceparent}
        context |= {name: value for name in ("tracestate", "baggage") if (value := headers.get(name, "").strip())}
        changed = _with_trace(body, context) if complete(body) else None
        if changed is None:
            await self.app(scope, receive, send)
            return
        sent = False

        async def rewritten() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                while (message := await receive())["type"] == "http.request" and message.get("more_body"):
                    pass  # the original body, already read in full: its replay is dropped
                if message["type"] != "http.request":
                    return message  # the client went away
                return {"type": "http.request", "body": changed, "more_body": False}
            return await receive()

        kept = [(name, value) for name, value in scope["headers"] if name != b"content-length"]
        scope = {**scope, "headers": [*kept, (b"content-length", str(len(changed)).encode())]}
        await self.app(scope, rewritten, send)


def _with_trace(body: bytes, context: dict[str, str]) -> bytes | None:
    """The body with the trace context in each request's `_meta` that lacks one; None when nothing changes (not
    JSON, no request, or each already carries its own)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    messages: list[Any] = parsed if isinstance(parsed, list) else [parsed]
    changed = False
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("method"), str) or "id" not in message:
            continue  # notifications and responses start no span of a call
        params = message.setdefault("params", {})
        if not isinstance(params, dict):
            continue
        meta = params.setdefault("_meta", {})
        if not isinstance(meta, dict) or "traceparent" in meta:
            continue
        meta.update(context)  # as the SDK's propagator reads `_meta`: traceparent, tracestate and baggage
        changed = True
    return json.dumps(parsed).encode() if changed else None
