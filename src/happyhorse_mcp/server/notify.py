"""Tell subscribed clients when a job changes state, on both protocol eras.

2025-11-25 clients subscribe per URI with `resources/subscribe` and get `notifications/resources/updated` on their
session; 2026-07-28 clients open `subscriptions/listen`, fed from the SDK's subscription bus.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

logger = logging.getLogger(__name__)


class ResourceNotifier:
    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self._sessions: dict[str, list[ServerSession]] = {}

    async def subscribe(self, ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        subscribers = self._sessions.setdefault(str(params.uri), [])
        if ctx.session not in subscribers:
            subscribers.append(ctx.session)
        return EmptyResult()

    async def unsubscribe(self, ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams) -> EmptyResult:
        subscribers = self._sessions.get(str(params.uri), [])
        if ctx.session in subscribers:
            subscribers.remove(ctx.session)
        return EmptyResult()

    async def updated(self, uri: str) -> None:
        await self.bus.publish(ResourceUpdated(uri=uri))
        for session in list(self._sessions.get(uri, [])):
            try:
                await session.send_resource_updated(uri)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                # The client went away: forget it rather than fail the job that changed.
                self._sessions[uri].remove(session)
                logger.debug("dropped a closed subscriber of %s", uri)
