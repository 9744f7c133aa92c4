from __future__ import annotations

import gc
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# pytest-xdist's controller loads this file too but runs no test, and starts its workers only once it is loaded: what
# the fixtures need (the SDK, the server, the fake fal: about a second of imports) is imported in them.
if TYPE_CHECKING:
    from mcp import Client

    from happyhorse_mcp.config import Settings
    from happyhorse_mcp.server import HappyHorseServer

    from .fakefal import FakeFal


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_sockets: serve the fake fal on a loopback port instead of in-process (processes, resets)"
    )
    config.addinivalue_line(
        "markers", "browser: runs headless Chromium and the MCP Inspector's web host (HAPPYHORSE_BROWSER_TESTS=1)"
    )
    config.addinivalue_line("markers", "node: runs a Node tool from .tools/ (the Inspector, TypeScript SDKs, mcpb)")
    config.addinivalue_line("markers", "postgres: needs the throwaway PostgreSQL of scripts/with-postgres")
    config.addinivalue_line(
        "markers", "packaging: builds this checkout and runs it as users install it (uv build, uvx, pipx)"
    )
    if config.pluginmanager.has_plugin("cacheprovider"):
        from . import media_factory

        media_factory.CLIP_CACHE = config.cache.mkdir("clips")


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    """Collecting imports the SDK, the server, the fake and every test module (some 600 pydantic models, a thousand
    test items), all kept to the end of the run. The garbage collector's passes over them find nothing: it pauses
    while they are made and then leaves them out of its passes (gc.freeze). Counted with gc.callbacks in a quick
    run's four workers (one run each): 4.9 s of CPU in the collector before, 2.1 s after."""
    gc.disable()
    try:
        return (yield)
    finally:
        gc.enable()
        gc.freeze()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The tests of whole processes first: they are the longest, and mostly wait on their servers, so started first
    # they overlap the in-process tests instead of being the last a worker runs while the others stand idle.
    items.sort(key=lambda item: item.path.parent.name != "process")
    if os.environ.get("HAPPYHORSE_BROWSER_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="a browser test: set HAPPYHORSE_BROWSER_TESTS=1 (.ci/run does)")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _schemas_checked_once() -> Iterator[None]:
    """The SDK's client checks each tool's output schema against JSON Schema's metaschema in every new session
    (about 50 ms a schema, a quarter of the in-process suite's time). The server's schemas are the same in every
    test: check each distinct one once per test process. Results are still validated against them every call."""
    from jsonschema.validators import Draft202012Validator

    checked: set[str] = set()
    original = Draft202012Validator.check_schema

    def check_once(schema: Any, *args: Any, **kwargs: Any) -> None:
        key = json.dumps(schema, sort_keys=True)
        if key not in checked:
            original(schema, *args, **kwargs)
            checked.add(key)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Draft202012Validator, "check_schema", staticmethod(check_once))
        yield


# A live link to the key page is a bearer capability: whoever holds it sets the key someone's videos are billed to.
LIVE_KEY_LINK = re.compile(r"/keys/[A-Za-z0-9_-]{20,}")
# Loggers that could carry one: this server's, the SDK's (it logs tool errors' text) and the HTTP server's.
WATCHED_LOGGERS = ("happyhorse_mcp", "mcp", "uvicorn", "starlette")


@pytest.fixture(autouse=True)
def _no_live_key_link_is_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every log line every test produces, at INFO and above, is read for a live key page link."""
    for name in WATCHED_LOGGERS:
        caplog.set_level(logging.INFO, logger=name)
    yield
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    leaked = [record.getMessage() for record in records if LIVE_KEY_LINK.search(record.getMessage())]
    assert not leaked, f"a live key page link reached the log: {leaked[0][:200]}"


@pytest.fixture(autouse=True)
def _table_prices() -> Iterator[None]:
    """fal's live prices, once a test's server read them, apply to that test only."""
    from happyhorse_mcp.domain.pricing import LIVE

    yield
    LIVE.clear()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake() -> FakeFal:
    from .fakefal import FakeFal

    return FakeFal()


@pytest.fixture
async def fal_url(request: pytest.FixtureRequest, fake: FakeFal) -> AsyncIterator[str]:
    """Where the fake fal answers: in-process unless the test is marked `real_sockets`."""
    import anyio

    from .fakefal import serve
    from .support import forget_in_process, serve_in_process

    if request.node.get_closest_marker("real_sockets"):
        async with serve(fake) as url:
            yield url
        return
    async with anyio.create_task_group() as tg:
        fake.attach(tg)
        url = serve_in_process(fake.app, tg)
        try:
            yield url
        finally:
            forget_in_process(url)
            tg.cancel_scope.cancel()


@pytest.fixture
def settings(fal_url: str, tmp_path: Path) -> Settings:
    from pydantic import SecretStr

    from happyhorse_mcp.config import Settings

    from .fakefal import VALID_KEY

    return Settings(
        fal_key=SecretStr(VALID_KEY),
        queue_url=fal_url,
        rest_url=fal_url,
        cdn_url=fal_url,
        api_url=fal_url,
        data_dir=tmp_path / "data",
    )


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    """A folder the server may read from and write to (HAPPYHORSE_ALLOWED_DIRS) in tests about local files."""
    folder = tmp_path / "allowed"
    folder.mkdir()
    return folder


@pytest.fixture
def server(settings: Settings) -> HappyHorseServer:
    from .support import make_server

    return make_server(settings)


@pytest.fixture(params=["legacy", "2026-07-28"], ids=["handshake-2025-11-25", "stateless-2026-07-28"])
async def client(request: pytest.FixtureRequest, server: HappyHorseServer) -> AsyncIterator[Client]:
    from mcp import Client

    async with Client(server, mode=request.param) as c:
        yield c
