"""Sessions over Streamable HTTP, bounded per client so no one token holder can lock the others out.

The SDK caps the sessions of the whole server (HAPPYHORSE_HTTP_MAX_SESSIONS) and closes a session once no request
of it has been in flight for a while. Two things defeat that on their own: one client opening sessions until the
cap is reached (10,000 abandoned `initialize` calls), and listening streams that stay open without being read (an
open GET stream counts as a request in flight, so its session never idles out). Here, in front of the SDK's app:
- a client holds at most `per_client` sessions: a signed-in user, whatever tokens and addresses they use (counted by
  the user the front door verified, so seven tokens or seven addresses are still one user), else, without sign-in,
  one bearer token from one address. Opening one more ends its least
  recently used idle session (one it has most likely abandoned), or, when every one of them has a request or
  stream open, is refused with 429; every other client is unaffected;
- a listening (GET) stream is closed after `stream_seconds`; a client still there reconnects, as SSE clients do,
  and an abandoned one is gone, so its session idles out.
A session is counted from the answer that opened it until the client deletes it, the server answers 404 for it, or
it has had no request in flight for `idle_seconds` (when the SDK closes it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..server.identity import principal_of_token

logger = logging.getLogger(__name__)

SESSION_HEADER = "mcp-session-id"


@dataclass
class _Session:
    client: str
    in_flight: int = 0
    last_done: float = field(default_factory=time.monotonic)


class SessionQuota:
    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        per_client: int,
        idle_seconds: float,
        stream_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self._path = path
        self._per_client = per_client
        self._idle = idle_seconds
        self._stream = stream_seconds
        self._clock = clock
        self._sessions: dict[str, _Session] = {}

    def open_sessions(self, client: str) -> int:
        """Sessions `client` holds now, forgetting those the SDK has closed for idling."""
        now = self._clock()
        for session_id, session in list(self._sessions.items()):
            if session.in_flight == 0 and now - session.last_done > self._idle:
                del self._sessions[session_id]
        return sum(1 for session in self._sessions.values() if session.client == client)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self._path:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        session_id = headers.get(SESSION_HEADER)
        if session_id is None:
            await self._open(scope, receive, send, _client_of(scope, headers))
            return
        session = self._sessions.get(session_id)
        if session is not None:
            session.in_flight += 1
        status: int | None = None
        ended = False

        async def sending(message: Message) -> None:
            nonlocal status, ended
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                ended = True
            await send(message)

        try:
            if scope["method"] == "GET":
                with anyio.move_on_after(self._stream) as bounded:
                    await self.app(scope, receive, sending)
                if bounded.cancelled_caught and status is not None and not ended:
                    # End the stream as a server that is done with it: an SSE client still there reconnects.
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await self.app(scope, receive, sending)
        finally:
            if session is not None:
                session.in_flight -= 1
                session.last_done = self._clock()
            if status == 404 or (scope["method"] == "DELETE" and status is not None and status < 300):
                self._sessions.pop(session_id, None)

    async def _open(self, scope: Scope, receive: Receive, send: Send, client: str) -> None:
        if scope["method"] == "POST" and self.open_sessions(client) >= self._per_client:
            idle = sorted(
                (session.last_done, session_id)
                for session_id, session in self._sessions.items()
                if session.client == client and session.in_flight == 0
            )
            if idle:  # the client's least recently used session makes room: one it has most likely abandoned
                await self._end(scope, idle[0][1])
            else:
                await self._refuse(scope, receive, send)
                return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 300:
                opened = Headers(raw=message["headers"]).get(SESSION_HEADER)
                if opened is not None:
                    self._sessions[opened] = _Session(client, last_done=self._clock())
            await send(message)

        await self.app(scope, receive, sending)

    async def _end(self, scope: Scope, session_id: str) -> None:
        """End a session as its client would: a DELETE for it, through the SDK's own handling."""
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-length", b"content-type")]
        ending = {**scope, "method": "DELETE", "headers": [*headers, (SESSION_HEADER.encode(), session_id.encode())]}

        async def nothing() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def discard(message: Message) -> None:
            return None

        logger.info("ending the least recently used session of a client at its limit of %d", self._per_client)
        await self.app(ending, nothing, discard)
        self._sessions.pop(session_id, None)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        logger.warning("refused a new HTTP session: one client holds %d, each with a request open", self._per_client)
        body = {
            "jsonrpc": "2.0",
            "id": None,
            "error": {
                "code": -32000,
                "message": f"This client already holds {self._per_client} sessions, each with a request or stream "
                "open (HAPPYHORSE_HTTP_SESSIONS_PER_CLIENT). Close streams it no longer reads, or end sessions it "
                "no longer uses (HTTP DELETE), then try again.",
            },
        }
        response = Response(
            json.dumps(body), status_code=429, media_type="application/json", headers={"Retry-After": "60"}
        )
        await response(scope, receive, send)


def _client_of(scope: Scope, headers: Headers) -> str:
    """Who is asking: the signed-in user the front door verified, else the bearer token presented (hashed, never
    kept) and the address it came from."""
    user = scope.get("user")
    principal = principal_of_token(user.access_token) if isinstance(user, AuthenticatedUser) else None
    if principal is not None and not principal.is_local:  # the shared token's holders are many clients
        return f"user:{principal.user}"
    token = hashlib.sha256(headers.get("authorization", "").encode()).hexdigest()[:16]
    address: Any = (scope.get("client") or ("?", 0))[0]
    return f"{token}@{address}"
