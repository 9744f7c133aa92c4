"""Tell subscribed clients when a job changes state, on both protocol eras.

2025-11-25 clients subscribe per URI with `resources/subscribe` and get `notifications/resources/updated` on their
session; 2026-07-28 clients open `subscriptions/listen`, fed from the SDK's subscription bus. Only resources that
exist can be subscribed to, a connection holds a bounded number of subscriptions, and a connection's subscriptions
go when it closes (a callback on its exit stack), however it ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from .sdk_hooks import connection_of

MAX_SUBSCRIPTIONS_PER_CONNECTION = 100


class ResourceNotifier:
    def __init__(self, exists: Callable[[str], Awaitable[bool]]) -> None:
        self.bus = InMemorySubscriptionBus()
        self._exists = exists
        self._connections: dict[Connection, set[str]] = {}

    async def subscribe(self, ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        uri = str(params.uri)
        if not await self._exists(uri):
            raise MCPError(
                INVALID_PARAMS,
                f"No resource {uri} to subscribe to; resources/list and the job ids from list_jobs show what exists.",
            )
        connection = connection_of(ctx.session)
        if connection not in self._connections:
            self._connections[connection] = set()
            connection.exit_stack.callback(self._connections.pop, connection, None)
        uris = self._connections[connection]
        if uri not in uris and len(uris) >= MAX_SUBSCRIPTIONS_PER_CONNECTION:
            raise MCPError(
                INVALID_PARAMS,
                f"This connection already follows {MAX_SUBSCRIPTIONS_PER_CONNECTION} resources; unsubscribe from some "
                "first.",
            )
        uris.add(uri)
        return EmptyResult()

    async def only_existing(self, ctx: ServerRequestContext[Any], call_next: Any) -> Any:
        """Middleware: a 2026-07-28 `subscriptions/listen` follows only resources that exist for the caller (another
        user's job is left out exactly as an unknown one is), as `resources/subscribe` does."""
        if ctx.method != "subscriptions/listen":
            return await call_next(ctx)
        params = dict(ctx.params or {})
        notifications = dict(params.get("notifications") or {})
        if uris := notifications.get("resourceSubscriptions"):
            notifications["resourceSubscriptions"] = [uri for uri in uris if await self._exists(str(uri))]
            params["notifications"] = notifications
            ctx = replace(ctx, params=params)
        return await call_next(ctx)

    async def unsubscribe(self, ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams) -> EmptyResult:
        self._connections.get(connection_of(ctx.session), set()).discard(str(params.uri))
        return EmptyResult()

    @property
    def subscriptions(self) -> int:
        return sum(len(uris) for uris in self._connections.values())

    async def updated(self, uri: str) -> None:
        await self.bus.publish(ResourceUpdated(uri=uri))
        for connection, uris in list(self._connections.items()):
            if uri in uris:  # best effort: a connection whose stream is gone drops the notification
                await connection.notify("notifications/resources/updated", {"uri": uri})
