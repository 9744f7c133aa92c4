"""Serve an ASGI app (the fake fal, or the server's own HTTP app) on a loopback port, in the caller's event loop,
so tests can steer it directly."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import uvicorn

from .app import FakeFal


@asynccontextmanager
async def serve_app(app: Any, port: int = 0, *, lifespan: bool = False) -> AsyncIterator[str]:
    """Yield the app's base URL, http://127.0.0.1:PORT, until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without, a response written in two pieces waits out a delayed ACK (40 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    sock.listen(128)  # connections wait in the backlog until uvicorn starts accepting
    config = uvicorn.Config(
        app, log_level="critical", lifespan="on" if lifespan else "off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            server.force_exit = not lifespan  # an app with a lifespan shuts down cleanly, closing its connections
    sock.close()


@asynccontextmanager
async def serve(fake: FakeFal, port: int = 0) -> AsyncIterator[str]:
    """The fake on a loopback port, its webhooks sent from the same task group."""
    async with anyio.create_task_group() as tg:
        fake.attach(tg)
        async with serve_app(fake.app, port) as url:
            yield url
        tg.cancel_scope.cancel()
