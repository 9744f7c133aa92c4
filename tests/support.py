"""Helpers shared by the tests: building a server against the fake fal, in-process or over a real socket.

In-process, the fake is reached through `InProcessTransport`, an httpx transport that runs the ASGI app in the
test's task group and streams its response (httpx's own ASGITransport buffers a whole response, which would hold
fal's status stream until the job ends). Tests marked `real_sockets` serve the fake on a loopback port instead:
processes (stdio, the Inspector) and faults that need a real connection.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import signal
import ssl
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import anyio
import httpx
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream
from pydantic import SecretStr

from happyhorse_mcp.config import Settings
from happyhorse_mcp.config.tls import tls_context
from happyhorse_mcp.domain.budget import SpendLimits
from happyhorse_mcp.domain.catalog import Operation
from happyhorse_mcp.fal.queue import FalQueue, RetryPolicy, default_http_client
from happyhorse_mcp.fal.storage import FalStorage
from happyhorse_mcp.jobs.films import Films
from happyhorse_mcp.jobs.follow import FollowPolicy
from happyhorse_mcp.jobs.machinery import assemble
from happyhorse_mcp.jobs.runner import JobRunner
from happyhorse_mcp.jobs.spend import SpendGuard
from happyhorse_mcp.jobs.store import Store
from happyhorse_mcp.server import HappyHorseServer, create_server
from happyhorse_mcp.server.options import STDIO, Serving

from .fakefal import VALID_KEY

if TYPE_CHECKING:
    import pytest

NO_BACKOFF = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0)
FAST_FOLLOW = FollowPolicy(poll_interval=0.01, max_interval=0.02, store_retry=0.01)

# Fakes served in-process, by the URL the server is configured with.
_IN_PROCESS: dict[str, InProcessTransport] = {}
_numbers = itertools.count()


class _Body(httpx.AsyncByteStream):
    def __init__(
        self, chunks: MemoryObjectReceiveStream[bytes | Exception], closed: anyio.Event, open_bodies: set[_Body]
    ) -> None:
        self._chunks = chunks
        self._closed = closed
        self._open = open_bodies
        open_bodies.add(self)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            if isinstance(chunk, Exception):
                raise chunk
            yield chunk

    async def aclose(self) -> None:
        self._closed.set()  # the app sees http.disconnect, as it would when a client hangs up
        self._chunks.close()
        self._open.discard(self)


class InProcessTransport(httpx.AsyncBaseTransport):
    """Run an ASGI app for each request in `task_group`, streaming its body as the app sends it."""

    def __init__(self, app: Any, task_group: TaskGroup) -> None:
        self._app = app
        self._tg = task_group
        self._open: set[_Body] = set()

    async def aclose(self) -> None:
        """A client closing (or cancelled mid-response, as a killed process would be) leaves no stream open."""
        for body in list(self._open):
            await body.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "root_path": "",
            "headers": [(key.lower(), value) for key, value in request.headers.raw],
            "server": (request.url.host, request.url.port or 80),
            "client": ("127.0.0.1", 50000),
        }
        send_chunk, chunks = anyio.create_memory_object_stream[bytes | Exception](math.inf)
        started = anyio.Event()
        closed = anyio.Event()
        start: dict[str, Any] = {}
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await closed.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                started.set()
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    await send_chunk.send(message["body"])
                if not message.get("more_body", False):
                    send_chunk.close()

        async def run() -> None:
            try:
                await self._app(scope, receive, send)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # the client stopped reading
            except Exception as exc:  # what a dropped connection looks like from the client's side
                error = httpx.ReadError(f"connection lost: {exc!r}", request=request)
                if not started.is_set():
                    start["error"] = error
                    started.set()
                else:
                    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                        send_chunk.send_nowait(error)
            finally:
                send_chunk.close()
                started.set()

        self._tg.start_soon(run)
        try:
            await started.wait()
            if "error" in start:
                raise start["error"]
            if "status" not in start:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        except BaseException:  # cancelled or failed before a response: nobody will read the body
            chunks.close()
            closed.set()
            raise
        return httpx.Response(
            start["status"], headers=start.get("headers", []), stream=_Body(chunks, closed, self._open), request=request
        )


def clean_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """os.environ as a shell with no setting of this server and no fal key has it, HOME at `home` (what `main()` and
    `check` read)."""
    import os

    for name in [name for name in os.environ if name.startswith(("HAPPYHORSE_", "FAL_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))


def free_port() -> int:
    """A loopback port nothing listens on now (the OS picks it)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def text_of(result: Any) -> str:
    """The text of a tool result's content, joined."""
    return " ".join(getattr(c, "text", "") for c in result.content)


def serve_in_process(app: Any, task_group: TaskGroup) -> str:
    """Register `app` under a new URL that `make_server` routes to in-process; returns the URL."""
    url = f"http://fal-{next(_numbers)}.test"
    _IN_PROCESS[url] = InProcessTransport(app, task_group)
    return url


def forget_in_process(url: str) -> None:
    _IN_PROCESS.pop(url, None)


def client_factory(url: str) -> Any:
    """The server's HTTP client for a fake at `url`: in-process when registered, else the real one."""
    transport = _IN_PROCESS.get(url)
    if transport is None:
        return None

    return lambda: default_http_client(transport)


@dataclass
class Rig:
    """A job runner on a store, with the fake fal in-process: for tests below the MCP surface."""

    runner: JobRunner
    store: Store
    fal: FalQueue
    guard: SpendGuard
    tg: TaskGroup
    storage: FalStorage
    http: httpx.AsyncClient | None = None  # the in-process client the fal clients share (downloads, in film tests)
    operation: Operation = Operation.TEXT_TO_VIDEO
    films: Films | None = None
    receiver: Any = None  # with webhooks: the ASGI app answering at WEBHOOK_BASE (the server's route, on this rig)


# Where a rig with webhooks tells fal to post each job's end; the fake's deliveries reach the rig's receiver in-process.
WEBHOOK_BASE = "http://server.test"


@asynccontextmanager
async def runner_rig(
    fake: Any,
    store: Store,
    limits: SpendLimits | None = None,
    policy: FollowPolicy = FAST_FOLLOW,
    data_dir: Path | None = None,
    webhooks: bool = False,
) -> AsyncIterator[Rig]:
    """The job machinery as the server wires it (jobs/machinery.py), on `store`, with the fake fal in-process; with
    `webhooks`, fal posts each job's end to the rig's receiver (the server's own route), signed by the fake's key."""
    settings = Settings(
        fal_key=SecretStr(VALID_KEY),
        queue_url="http://fal.test",
        rest_url="http://fal.test",
        cdn_url="http://fal.test",
        api_url="http://fal.test",
        data_dir=data_dir or Path(tempfile.gettempdir()) / "happyhorse-rig",
        limits=limits or SpendLimits(daily_budget_usd=3.0),
        webhook_url=WEBHOOK_BASE if webhooks else None,
        jwks_url="http://fal.test/.well-known/jwks.json",
    )
    async with anyio.create_task_group() as tg, default_http_client(InProcessTransport(fake.app, tg)) as http:
        fake.attach(tg)
        made = assemble(settings, store, http, tg, follow=policy, retry=NO_BACKOFF, webhooks=webhooks)
        receiver = None
        if webhooks:
            receiver = receiver_app(made.runner)
            fake.webhooks.client = lambda: httpx.AsyncClient(transport=InProcessTransport(receiver, tg))
        rig = Rig(made.runner, store, made.fal, made.guard, tg, made.storage, http, films=made.films, receiver=receiver)
        yield rig
        # Stopped as a process dies: the jobs' tasks end before the connections they use are closed.
        tg.cancel_scope.cancel()


def receiver_app(runner: JobRunner) -> Any:
    """The server's webhook route alone, on `runner`."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    from happyhorse_mcp.transport.fal_webhook import WEBHOOK_ROUTE, webhook_endpoint

    async def runner_of() -> JobRunner:
        return runner

    return Starlette(routes=[Route(WEBHOOK_ROUTE, webhook_endpoint(runner_of), methods=["POST"])])


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A database URL on a fresh schema of the test PostgreSQL (scripts/with-postgres starts one); the test is
    skipped without one, and fails instead when HAPPYHORSE_REQUIRE_POSTGRES is set (CI)."""
    import os
    import secrets

    import psycopg
    import pytest

    base = os.environ.get("HAPPYHORSE_TEST_DATABASE_URL", "")
    if not base:
        if os.environ.get("HAPPYHORSE_REQUIRE_POSTGRES"):
            pytest.fail("HAPPYHORSE_TEST_DATABASE_URL is unset: run the tests through scripts/with-postgres")
        pytest.skip("no test PostgreSQL: run the tests through scripts/with-postgres (scripts/test does)")
    schema = f"t_{secrets.token_hex(6)}"
    async with await psycopg.AsyncConnection.connect(base, autocommit=True) as db:
        await db.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        async with await psycopg.AsyncConnection.connect(base, autocommit=True) as db:
            await db.execute(f"DROP SCHEMA {schema} CASCADE")


def tool_names() -> list[str]:
    """The names of every tool the server offers, read from a server (no fal, no backend)."""
    server = create_server(Settings(fal_key=None))
    return sorted(tool.name for tool in anyio.run(server.list_tools))


def shared_tls() -> ssl.SSLContext:
    """TLS settings for the tests' own HTTP clients: the server's one context per process. Made for each client (what
    httpx does without `verify=`), it reads the whole CA bundle, 25 ms to 50 ms of CPU, about ninety times a run; these
    clients speak plain HTTP to loopback, so it is never used."""
    return tls_context()


def make_server(settings: Settings, serving: Serving = STDIO) -> HappyHorseServer:
    return create_server(
        settings,
        serving=serving,
        http_client_factory=client_factory(settings.queue_url),
        retry=NO_BACKOFF,
        follow=FAST_FOLLOW,
    )


def stdio_server(fal_url: str, data_dir: Path, **env: str) -> Any:
    """The installed server as a stdio subprocess, on the fake fal at `fal_url`, keeping its jobs in `data_dir`."""
    import sys

    from mcp import StdioServerParameters

    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "happyhorse_mcp"],
        env={
            "FAL_KEY": VALID_KEY,
            "HAPPYHORSE_FAL_QUEUE_URL": fal_url,
            "HAPPYHORSE_FAL_REST_URL": fal_url,
            "HAPPYHORSE_FAL_CDN_URL": fal_url,
            "HAPPYHORSE_FAL_API_URL": fal_url,
            "HAPPYHORSE_DATA_DIR": str(data_dir),
            **env,
        },
    )


@contextlib.contextmanager
def http_server_process(
    command: list[str], env: dict[str, str], log: Path, **popen: Any
) -> Iterator[subprocess.Popen[str]]:
    """A server process started by `command`, once it says it serves HTTP (uvicorn's line); its stderr copied to
    `log` as it runs (drained, so a chatty server never blocks on the pipe); stopped (SIGTERM) after."""
    ready = threading.Event()

    def copy(stream: IO[str]) -> None:
        with stream, log.open("w") as out:
            for line in stream:
                out.write(line)
                if "Uvicorn running on" in line:
                    ready.set()
        ready.set()

    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, **popen)
    assert process.stderr is not None
    copier = threading.Thread(target=copy, args=(process.stderr,), daemon=True)
    copier.start()
    try:
        if not ready.wait(timeout=60) or process.poll() is not None:
            pytest.fail(f"{command[0]} did not start serving: see {log}")
        yield process
    finally:
        if process.poll() is None:
            if popen.get("start_new_session"):
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.terminate()
        process.wait(timeout=30)
        copier.join(timeout=30)
