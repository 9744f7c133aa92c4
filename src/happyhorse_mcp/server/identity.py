"""Who makes a request: the principal its bearer token stands for (auth/ verified it at the HTTP front door), or
the one local user on stdio and on an HTTP server without sign-in or with the single shared token.

`identify` (a middleware around every request) sets the caller once; tools, resources (static ones and
resources/list too, which get no request context) and task methods ask `caller()` and pass the user to the job
machinery, which finds only that user's jobs in the same query that finds the job."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken

from ..domain.principal import LOCAL, Principal, user_of

_caller: ContextVar[Principal] = ContextVar("happyhorse_caller", default=LOCAL)
# Whether the caller is on this machine (stdio), so the server's own file paths mean something to it.
_on_this_machine: ContextVar[bool] = ContextVar("happyhorse_on_this_machine", default=True)


def principal_of_token(token: AccessToken) -> Principal:
    """The user a verified token names: its issuer and subject (a static token's name has no issuer)."""
    issuer = (token.claims or {}).get("iss")
    by_oauth = isinstance(issuer, str)
    return Principal(
        user_of(issuer if by_oauth else None, token.subject or token.client_id),
        frozenset(token.scopes),
        by_oauth=by_oauth,
    )


def principal_of(ctx: Any) -> Principal:
    """The principal of a request context: from the HTTP request's verified token, else the local user."""
    request = getattr(ctx, "request", None)
    scope = getattr(request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    return principal_of_token(user.access_token) if isinstance(user, AuthenticatedUser) else LOCAL


async def identify(ctx: Any, call_next: Any) -> Any:
    """Middleware: the request runs as its caller, whatever handler answers it."""
    token = _caller.set(principal_of(ctx))
    here = _on_this_machine.set(getattr(ctx, "request", None) is None)
    try:
        return await call_next(ctx)
    finally:
        _on_this_machine.reset(here)
        _caller.reset(token)


def shows_server_paths() -> bool:
    """Whether the request being answered came over stdio, from this machine: over HTTP the server's own paths (a
    film kept in its data folder) are never shown."""
    return _on_this_machine.get()


def caller() -> Principal:
    """Who makes the request being answered (the local user outside one)."""
    return _caller.get()
