"""Every host config the project shows (examples/, README, docs/) starts a server from this checkout, as a user who
copies it and fills in the placeholders would get: stdio configs through `uvx --from <checkout>`, HTTP configs by
connecting with the URL and headers they give."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from happyhorse_mcp.config import Settings
from happyhorse_mcp.transport.http import HttpOptions, build_app

from ..fakefal import VALID_KEY, serve_app
from ..support import free_port, make_server, shared_tls

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLACEHOLDER = "/path/to/happyhorse-mcp"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
EXAMPLE_CONFIGS = sorted([*(ROOT / "examples").rglob("*.json"), *(ROOT / "examples").rglob(".mcp.json")])
TOKEN = "the-team-token"
TOKEN_REFERENCES = re.compile(r"\$\{input:[\w-]+\}|\$\{env:HAPPYHORSE_HTTP_TOKEN\}|\$\{?HAPPYHORSE_HTTP_TOKEN\}?")
TOOLS = {"generate_video", "image_to_video", "reference_to_video", "edit_video", "estimate_cost", "get_job"}


def _entry(config: dict[str, Any]) -> dict[str, Any] | None:
    servers = config.get("mcpServers") or config.get("servers") or {}
    return servers.get("happyhorse")


def _blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        for block in re.findall(rf"```{language}\n(.*?)```", document.read_text(), re.S):
            found.append((str(document.relative_to(ROOT)), block))
    return found


def _claude_lines() -> list[tuple[str, list[str]]]:
    """`claude mcp add ...` command lines in the documents' shell blocks."""
    return [
        (where, shlex.split(line))
        for where, block in _blocks("sh")
        for line in block.replace("\\\n", " ").splitlines()
        if line.startswith("claude mcp add")
    ]


def _from_claude_line(words: list[str]) -> dict[str, Any]:
    """The server entry a `claude mcp add` line makes."""
    if "--transport" in words and words[words.index("--transport") + 1] == "http":
        headers = dict(w.split(": ", 1) for i, w in enumerate(words) if i and words[i - 1] == "--header")
        url = next(w for w in words if w.startswith(("http://", "https://")))
        return {"url": url, "headers": headers}
    command = words[words.index("--") + 1 :]
    env = dict(w.split("=", 1) for i, w in enumerate(words) if i and words[i - 1] == "--env")
    return {"command": command[0], "args": command[1:], "env": env}


def _stdio_entries() -> list[tuple[str, dict[str, Any]]]:
    entries = [(str(p.relative_to(ROOT)), _entry(json.loads(p.read_text()))) for p in EXAMPLE_CONFIGS]
    entries += [(where, _entry(json.loads(block))) for where, block in _blocks("json")]
    entries += [(where, _from_claude_line(words)) for where, words in _claude_lines()]
    return [(where, entry) for where, entry in entries if entry is not None and "command" in entry]


def _http_entries() -> list[tuple[str, dict[str, Any]]]:
    entries = [(where, _entry(json.loads(block))) for where, block in _blocks("json")]
    entries += [(where, _from_claude_line(words)) for where, words in _claude_lines()]
    return [(where, entry) for where, entry in entries if entry is not None and "command" not in entry]


def _distinct(entries: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """One start per distinct command line and set of variables, named after every place that shows it."""
    places: dict[str, list[str]] = {}
    first: dict[str, dict[str, Any]] = {}
    for where, entry in entries:
        key = json.dumps([entry.get("command"), entry.get("args"), sorted(entry.get("env", {}))])
        places.setdefault(key, []).append(where)
        first.setdefault(key, entry)
    return [(" ".join(sorted(set(places[key]))), first[key]) for key in places]


STDIO = _stdio_entries()
HTTP = _http_entries()


def _filled_env(env: dict[str, str], host: dict[str, str]) -> dict[str, str]:
    """The config's variables exactly as written, the key aside: a user fills in only that (and the checkout's
    path); `${VAR}` is expanded from `host`'s environment, as Claude Code does in .mcp.json. Folders that do not
    exist on this machine (~/Pictures under an empty home) must not stop the server."""
    return {
        name: VALID_KEY if name == "FAL_KEY" else re.sub(r"\$\{(\w+)\}", lambda m: host[m.group(1)], value)
        for name, value in env.items()
    }


def test_the_documents_show_configs_for_every_host_both_ways() -> None:
    assert len(STDIO) >= 8
    assert {where for where, _ in HTTP} == {"docs/hosts/http.md"}
    assert len(HTTP) == 4  # Claude Code, VS Code, Cursor, Windsurf


@pytest.mark.packaging
@pytest.mark.parametrize(("where", "entry"), _distinct(STDIO), ids=[w for w, _ in _distinct(STDIO)])
async def test_a_stdio_config_starts_the_server_from_this_checkout(
    where: str, entry: dict[str, Any], tmp_path: Path
) -> None:
    assert entry["command"] == "uvx", f"{where} should run the checkout with uvx"
    assert entry["args"] == ["--from", PLACEHOLDER, "happyhorse-mcp"], f"{where} should name the checkout"
    host = {
        # The machine's own settings (certificates, package index) pass through, as they would for a user.
        **{k: v for k, v in os.environ.items() if not k.startswith(("FAL_", "HAPPYHORSE_"))},
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "PWD": str(tmp_path),
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
        "HAPPYHORSE_DATA_DIR": str(tmp_path / "data"),
    }
    params = StdioServerParameters(
        command=str(BIN / "uvx"),
        args=[arg.replace(PLACEHOLDER, str(ROOT)) for arg in entry["args"]],
        env={**host, **_filled_env(entry.get("env", {}), host)},
    )
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
    assert listed >= TOOLS


def test_the_claude_code_script_registers_this_checkout(tmp_path: Path) -> None:
    # A stand-in `claude` that records what the script asks it to register.
    claude = tmp_path / "claude"
    claude.write_text(f'#!/bin/sh\n"{sys.executable}" -c "import json,sys; print(json.dumps(sys.argv[1:]))" "$@"\n')
    claude.chmod(claude.stat().st_mode | stat.S_IEXEC)
    done = subprocess.run(
        ["bash", str(ROOT / "examples" / "claude_code.sh")],
        env={"PATH": f"{tmp_path}{os.pathsep}/usr/bin:/bin", "FAL_KEY": VALID_KEY},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    words = ["claude", *json.loads(done.stdout)]
    assert _from_claude_line(words) == {
        "command": "uvx",
        "args": ["--from", str(ROOT), "happyhorse-mcp"],
        "env": {"FAL_KEY": VALID_KEY},
    }


@asynccontextmanager
async def _http_server(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    options = HttpOptions(host="127.0.0.1", port=port, token=TOKEN)
    async with serve_app(build_app(make_server(settings, options.serving), options), port, lifespan=True) as url:
        yield url


@pytest.mark.real_sockets
@pytest.mark.parametrize(("where", "entry"), HTTP, ids=[f"{w}-{i}" for i, (w, _) in enumerate(HTTP)])
async def test_an_http_config_connects_with_the_token_it_sends(
    where: str, entry: dict[str, Any], settings: Settings
) -> None:
    url = entry.get("url") or entry["serverUrl"]
    assert url == "http://127.0.0.1:8000/mcp", where
    headers = {name: TOKEN_REFERENCES.sub(TOKEN, value) for name, value in entry["headers"].items()}
    assert headers == {"Authorization": f"Bearer {TOKEN}"}, f"{where}: the token reference was not recognised"
    async with (
        _http_server(settings) as served,
        httpx2.AsyncClient(verify=shared_tls(), headers=headers) as http,
        Client(streamable_http_client(url.replace("http://127.0.0.1:8000", served), http_client=http)) as client,
    ):
        listed = {tool.name for tool in (await client.list_tools()).tools}
    assert listed >= TOOLS


def test_each_claude_code_line_refuses_to_store_an_unset_key() -> None:
    # `--env FAL_KEY="$FAL_KEY"` with FAL_KEY unset stored an empty key, which then overrode one exported later.
    import subprocess

    lines = [words for _, words in _claude_lines() if "--env" in words]
    assert lines, "the documents show a Claude Code line with the key"
    for words in lines:
        (given,) = [w for i, w in enumerate(words) if words[i - 1] == "--env" and w.startswith("FAL_KEY=")]
        written = given.split("=", 1)[1]
        unset = subprocess.run(["bash", "-c", f'echo "{written}"'], env={"PATH": "/usr/bin:/bin"}, capture_output=True)
        assert unset.returncode != 0, f"{written} expands to an empty key when FAL_KEY is unset"
        assert b"export FAL_KEY" in unset.stderr
