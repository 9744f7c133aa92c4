"""The front door of every HTTP deployment with a token: every request to the MCP endpoint carries a bearer token
that a verifier (auth/) turns into a user with scopes (the shared HAPPYHORSE_HTTP_TOKEN: the local user; named
tokens or an identity provider's: each person), or is refused before the MCP layer sees it.

- no valid token: 401, `WWW-Authenticate: Bearer error="invalid_token", scope="...", resource_metadata="..."` (the
  Protected Resource Metadata URL when an authorization server signs people in, so a client can start the OAuth
  flow). The scope named is what a person needs to work, read and generate (read only when this deployment offers
  no spending tool): clients ask for exactly the 401's scope in their first sign-in, and self-registering clients
  register with it, so a 401 naming read alone left every real host unable ever to make a video;
- a token without `happyhorse:read`: 403 `insufficient_scope`;
- with an authorization server, a `tools/call` of a tool that spends money by a token without `happyhorse:generate`:
  403 `insufficient_scope` (step-up: the client signs the person in again). Most clients replace their scope with
  the challenge's rather than add to it, so every challenge names all the scopes the request needs: the token's own
  plus the missing one, never the missing one alone (a generate-only token could then read nothing). Named tokens
  cannot step up: their refused spend reaches the tool, whose error tells the person what to ask the operator for.

The SDK's RequireAuthMiddleware checks one set of scopes for every request and names no scope in its challenge, so
this middleware does the checking; the SDK's AccessToken, AuthenticatedUser, auth context and metadata routes are
used as they are.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import TokenVerifier
from starlette.authentication import AuthCredentials
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..domain.principal import GENERATE_SCOPE, READ_SCOPE, SCOPES
from .bodies import peek


class FrontDoor:
    def __init__(
        self,
        app: ASGIApp,
        verifier: TokenVerifier,
        *,
        path: str,
        generation_tools: frozenset[str],
        resource_metadata_url: str | None = None,
        open_paths: Sequence[str] = (),
    ) -> None:
        self.app = app
        self._open = frozenset(open_paths)  # public documents under the MCP path (the server card)
        self._verifier = verifier
        self._path = path
        self._spending = generation_tools
        self._metadata = resource_metadata_url
        # What a person needs to work here: one sign-in that can also spend, unless nothing here spends.
        self._to_work = SCOPES if generation_tools else (READ_SCOPE,)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].rstrip("/") if scope["type"] == "http" else ""
        guarded = scope["type"] == "http" and path.startswith(self._path) and path not in self._open
        if not guarded or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)  # health, metadata, CORS preflights: open
            return
        headers = Headers(scope=scope)
        scheme, _, presented = headers.get("authorization", "").partition(" ")
        access = await self._verifier.verify_token(presented.strip()) if scheme.lower() == "bearer" else None
        if access is None or (access.expires_at is not None and access.expires_at < time.time()):
            reason = "A valid bearer token is required." if scheme else "No bearer token was sent."
            await self._refuse(send, 401, "invalid_token", f"{reason} Sign in again.", self._to_work)
            return
        held = set(access.scopes)
        if READ_SCOPE not in held:
            needed = (READ_SCOPE, *sorted(held & {GENERATE_SCOPE}))
            await self._refuse(send, 403, "insufficient_scope", f"The token lacks {READ_SCOPE}.", needed)
            return
        if self._metadata and scope["method"] == "POST" and GENERATE_SCOPE not in held:
            body, receive = await peek(receive)
            if spending := sorted(_called_tools(body) & self._spending):
                message = f"{spending[0]} spends money: the token lacks {GENERATE_SCOPE}. Nothing was submitted."
                await self._refuse(send, 403, "insufficient_scope", message, SCOPES)
                return
        scope["user"] = AuthenticatedUser(access)
        scope["auth"] = AuthCredentials(access.scopes)
        token = auth_context_var.set(scope["user"])
        try:
            await self.app(scope, receive, send)
        finally:
            auth_context_var.reset(token)

    async def _refuse(
        self, send: Send, status: int, error: str, description: str, scopes_needed: Sequence[str]
    ) -> None:
        needed = " ".join(scopes_needed)
        parts = [f'error="{error}"', f'error_description="{description}"', f'scope="{needed}"']
        if self._metadata:
            parts.append(f'resource_metadata="{self._metadata}"')
        parts.append('realm="happyhorse-mcp"')
        body = json.dumps({"error": error, "error_description": description, "scope": needed}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", f"Bearer {', '.join(parts)}".encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _called_tools(body: bytes) -> set[str]:
    """The tools a JSON-RPC message (or batch) calls."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth: the SDK answers it
        return set()
    calls: Sequence[object] = parsed if isinstance(parsed, list) else [parsed]
    return {
        name
        for call in calls
        if isinstance(call, dict)
        and call.get("method") == "tools/call"
        and isinstance(call.get("params"), dict)
        and isinstance(name := call["params"].get("name"), str)
    }
