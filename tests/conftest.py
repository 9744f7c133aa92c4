from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client
from pydantic import SecretStr

from happyhorse_mcp.config import Settings
from happyhorse_mcp.fal.queue import RetryPolicy
from happyhorse_mcp.server import HappyHorseServer, create_server

from .fakefal import VALID_KEY, FakeFal, serve

NO_BACKOFF = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake() -> FakeFal:
    return FakeFal()


@pytest.fixture
async def fal_url(fake: FakeFal) -> AsyncIterator[str]:
    async with serve(fake) as url:
        yield url


@pytest.fixture
def settings(fal_url: str, tmp_path: Path) -> Settings:
    return Settings(
        fal_key=SecretStr(VALID_KEY),
        queue_url=fal_url,
        rest_url=fal_url,
        cdn_url=fal_url,
        data_dir=tmp_path / "data",
    )


def make_server(settings: Settings) -> HappyHorseServer:
    return create_server(settings, retry=NO_BACKOFF, poll_interval=0.01)


@pytest.fixture
def server(settings: Settings) -> HappyHorseServer:
    return make_server(settings)


@pytest.fixture(params=["legacy", "2026-07-28"], ids=["handshake-2025-11-25", "stateless-2026-07-28"])
async def client(request: pytest.FixtureRequest, server: HappyHorseServer) -> AsyncIterator[Client]:
    async with Client(server, mode=request.param) as c:
        yield c
