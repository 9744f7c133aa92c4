"""A call traced at the HTTP layer (`traceparent` and `tracestate` headers, no `_meta`) reaches the SDK with the trace
context in each request's `_meta`, where the SDK starts its span; a call's own `_meta` wins, and anything else passes
byte for byte."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from happyhorse_mcp.transport.bodies import MAX_PEEK_BYTES
from happyhorse_mcp.transport.trace_headers import TraceHeaders

pytestmark = pytest.mark.anyio

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OWN = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Recorder:
    """The app behind the middleware: the body and Content-Length each request reached it with."""

    def __init__(self) -> None:
        self.seen: list[tuple[bytes, str | None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        self.seen.append((await request.body(), request.headers.get("content-length")))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _sent(body: bytes, headers: dict[str, str], path: str = "/mcp") -> tuple[bytes, str | None]:
    recorder = Recorder()
    transport = httpx.ASGITransport(app=TraceHeaders(recorder, path="/mcp"))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        await client.post(path, content=body, headers=headers)
    return recorder.seen[0]


def _call(number: int = 1, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "generate_video", "arguments": {"prompt": "a horse"}}
    if meta is not None:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": params}


async def test_a_call_traced_in_its_http_headers_carries_the_trace_in_its_meta() -> None:
    body, length = await _sent(json.dumps(_call()).encode(), {"traceparent": TRACEPARENT, "tracestate": "vendor=1"})
    assert json.loads(body)["params"]["_meta"] == {"traceparent": TRACEPARENT, "tracestate": "vendor=1"}
    assert json.loads(body)["params"]["arguments"] == {"prompt": "a horse"}
    assert length == str(len(body))


async def test_a_calls_own_meta_traceparent_wins_over_the_header() -> None:
    sent = json.dumps(_call(meta={"traceparent": OWN, "progressToken": 7})).encode()
    assert await _sent(sent, {"traceparent": TRACEPARENT}) == (sent, str(len(sent)))


async def test_every_request_of_a_batch_is_traced_and_a_notification_is_left_alone() -> None:
    notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    body, _ = await _sent(json.dumps([_call(1), notification, ping]).encode(), {"traceparent": TRACEPARENT})
    first, second, third = json.loads(body)
    assert first["params"]["_meta"]["traceparent"] == TRACEPARENT
    assert second == notification
    assert third["params"]["_meta"]["traceparent"] == TRACEPARENT


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id: invalid
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id: invalid
        TRACEPARENT.upper(),
    ],
)
async def test_an_invalid_traceparent_header_changes_nothing(header: str) -> None:
    sent = json.dumps(_call()).encode()
    assert (await _sent(sent, {"traceparent": header}))[0] == sent


async def test_a_body_that_is_no_json_rpc_request_or_elsewhere_passes_unchanged() -> None:
    assert (await _sent(b"{not json", {"traceparent": TRACEPARENT}))[0] == b"{not json"
    response = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {}}).encode()
    assert (await _sent(response, {"traceparent": TRACEPARENT}))[0] == response
    call = json.dumps(_call()).encode()
    assert (await _sent(call, {"traceparent": TRACEPARENT}, path="/elsewhere"))[0] == call


async def test_a_body_too_large_to_read_ahead_passes_unchanged() -> None:
    large = json.dumps(_call(meta={"padding": "x" * (MAX_PEEK_BYTES + 1)})).encode()
    assert (await _sent(large, {"traceparent": TRACEPARENT}))[0] == large


async def test_baggage_sent_as_a_header_travels_with_the_trace_into_meta() -> None:
    headers = {"traceparent": TRACEPARENT, "baggage": "tenant=blue,plan=team"}
    body, _ = await _sent(json.dumps(_call()).encode(), headers)
    assert json.loads(body)["params"]["_meta"] == {"traceparent": TRACEPARENT, "baggage": "tenant=blue,plan=team"}
