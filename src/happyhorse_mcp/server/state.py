"""What the tools share for the server's lifetime. The parts that talk to fal start in the background, so the
server answers `initialize` and `tools/list` without waiting for the HTTP stack to import."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from ..config.settings import Settings
from ..domain.errors import ServerNotReadyError

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

    from .backend import Backend


@dataclass
class AppState:
    settings: Settings
    # The contact sheets last read as a resource, by job id, most recent last (tools/review.py keeps it short).
    contact_sheets: OrderedDict[str, bytes] = field(default_factory=OrderedDict)
    _ready: anyio.Event = field(default_factory=anyio.Event)
    _backend: Backend | None = None
    _failure: str | None = None

    def started(self, backend: Backend) -> None:
        self._backend = backend
        self._ready.set()

    def failed(self, message: str) -> None:
        self._failure = message
        self._ready.set()

    async def backend(self) -> Backend:
        await self._ready.wait()
        if self._backend is None:
            raise ServerNotReadyError(f"The server could not start its job machinery: {self._failure}")
        return self._backend

    @property
    def running(self) -> Backend | None:
        """The backend if it has started, without waiting."""
        return self._backend


def app_state(ctx: Context[Any, Any]) -> AppState:
    state: AppState = ctx.request_context.lifespan_context
    return state
