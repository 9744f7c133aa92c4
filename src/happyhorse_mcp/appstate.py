"""What the tools share for the server's lifetime. The parts that talk to fal start in the background, so the
server answers `initialize` and `tools/list` without waiting for the HTTP stack to import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from .settings import Settings

if TYPE_CHECKING:
    from .jobs import JobRunner
    from .storage import FalStorage, VideoDownloader


@dataclass(frozen=True)
class Backend:
    runner: JobRunner
    storage: FalStorage
    downloader: VideoDownloader


@dataclass
class AppState:
    settings: Settings
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
            raise ToolError(f"The server could not start its job machinery: {self._failure}")
        return self._backend
