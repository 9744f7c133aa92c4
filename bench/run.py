"""Where happyhorse-mcp stands: cold start against the other video MCP servers, completion lag, requests to fal per
job, 100 concurrent jobs, and the size of tools/list. One run, one machine.

    .venv/bin/python bench/run.py            # prints a Markdown report (docs/benchmarks.md is one)

The other servers are installed from PyPI into bench/.venvs/ on first run. Every server process runs under
`unshare -n` (a network namespace with no network), so none can reach the internet while it starts; without
`unshare` (Linux, root) the comparison is skipped. No keys are needed: each gets a dummy one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENVS = ROOT / "bench" / ".venvs"
PY = Path(sys.executable)

OTHERS: dict[str, tuple[list[str], str]] = {
    # name: (pip requirements, console script)
    "mcp-happyhorse": (["mcp-happyhorse"], "mcp-happyhorse"),
    "minimax-mcp": (["minimax-mcp"], "minimax-mcp"),
    "hoobnn-minimax-mcp": (["hoobnn-minimax-mcp"], "hoobnn-minimax-mcp"),
    "fal-mcp-server": (["fal-mcp-server", "mcp<2"], "fal-mcp"),
}
DUMMY_ENV = {
    "FAL_KEY": "bench-id:bench-secret",
    "MINIMAX_API_KEY": "bench",
    "MINIMAX_API_HOST": "https://api.minimax.io",
    "ACEDATACLOUD_API_TOKEN": "bench",
}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}


def ensure_venv(name: str) -> Path:
    requirements, script = OTHERS[name]
    venv = VENVS / name
    binary = venv / "bin" / script
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *requirements], check=True)
    return binary


@dataclass
class ColdStart:
    name: str
    command: list[str]
    initialize: list[float] = field(default_factory=list)
    tools_list: list[float] = field(default_factory=list)
    tools_bytes: int = 0
    model_bytes: int = 0


def cold_start_once(entry: ColdStart, data_dir: str) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": data_dir, "HAPPYHORSE_DATA_DIR": data_dir, **DUMMY_ENV}
    started = time.perf_counter()
    process = subprocess.Popen(
        ["unshare", "-n", *entry.command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write((json.dumps(INIT) + "\n").encode())
    process.stdin.flush()
    process.stdout.readline()
    entry.initialize.append(time.perf_counter() - started)
    process.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    process.stdin.write(b'{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n')
    process.stdin.flush()
    listed = process.stdout.readline()
    entry.tools_list.append(time.perf_counter() - started)
    result = json.loads(listed)["result"]
    entry.tools_bytes = len(json.dumps(result, separators=(",", ":")).encode())
    entry.model_bytes = model_visible_bytes(result["tools"])
    process.kill()
    process.wait()


def model_visible_bytes(tools: list[dict[str, object]]) -> int:
    """What a model reads of tools/list: each tool's name, description and input schema, as compact JSON."""
    seen = [{"name": t["name"], "description": t.get("description"), "inputSchema": t["inputSchema"]} for t in tools]
    return sum(len(json.dumps(tool, separators=(",", ":")).encode()) for tool in seen)


def cold_starts(runs: int) -> list[ColdStart]:
    entries = [
        ColdStart("happyhorse-mcp (this)", [str(PY.parent / "happyhorse-mcp")]),
        ColdStart("floor: bare one-tool MCPServer", [str(PY), str(ROOT / "bench" / "floor_server.py")]),
    ]
    if shutil.which("unshare") and os.geteuid() == 0:
        entries += [ColdStart(name, [str(ensure_venv(name))]) for name in OTHERS]
    else:
        print("(other servers skipped: they are only started inside `unshare -n`, which needs root)", file=sys.stderr)
    with tempfile.TemporaryDirectory() as data_dir:
        for entry in entries:  # a warm-up start each, not counted (first import compiles bytecode)
            cold_start_once(entry, data_dir)
            entry.initialize.clear()
            entry.tools_list.clear()
        for _ in range(runs):
            for entry in entries:  # interleaved, so drift in the machine's load touches all alike
                cold_start_once(entry, data_dir)
    return entries


def spread(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return f"{statistics.median(ms):.0f} ms (min {ms[0]:.0f}, max {ms[-1]:.0f})"


async def completion_lag(jobs: int) -> tuple[list[float], int]:
    from mcp import Client
    from pydantic import SecretStr
    from tests.fakefal import VALID_KEY, FakeFal, serve

    from happyhorse_mcp.config import Settings
    from happyhorse_mcp.domain.budget import SpendLimits
    from happyhorse_mcp.server import create_server

    fake = FakeFal(hold=True)
    lags: list[float] = []
    async with serve(fake) as url:
        with tempfile.TemporaryDirectory() as data:
            settings = Settings(
                fal_key=SecretStr(VALID_KEY),
                queue_url=url,
                data_dir=Path(data),
                limits=SpendLimits(1000, 1000, 1000),
            )
            async with Client(create_server(settings)) as client:
                for _ in range(jobs):
                    queued = anyio.Event()
                    done: list[float] = []

                    async def call(queued: anyio.Event = queued, done: list[float] = done) -> None:
                        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                            queued.set()

                        await client.call_tool("generate_video", {"prompt": "bench"}, progress_callback=on_progress)
                        done.append(time.perf_counter())

                    async with anyio.create_task_group() as tg:
                        tg.start_soon(call)
                        await queued.wait()
                        fake.start(fake.submits[-1].request_id)
                        completed_at = time.perf_counter()
                        fake.complete(fake.submits[-1].request_id)
                    lags.append(done[0] - completed_at)
    return lags, len(fake.requests) // jobs


async def requests_per_job(job_seconds: float, time_scale: float) -> int:
    """fal requests for one job lasting `job_seconds` of fake time, run `time_scale` times faster."""
    from mcp import Client
    from pydantic import SecretStr
    from tests.fakefal import VALID_KEY, FakeFal, serve

    from happyhorse_mcp.config import Settings
    from happyhorse_mcp.server import create_server

    fake = FakeFal(queue_seconds=0.0, run_seconds=job_seconds / time_scale)
    async with serve(fake) as url:
        with tempfile.TemporaryDirectory() as data:
            settings = Settings(fal_key=SecretStr(VALID_KEY), queue_url=url, data_dir=Path(data))
            async with Client(create_server(settings)) as client:
                await client.call_tool("generate_video", {"prompt": "bench", "wait_seconds": 600})
    return len(fake.requests)


async def concurrency(jobs: int) -> tuple[int, float, float]:
    """`jobs` generate_video calls at once in one server process, fal (the fake) in another process."""
    from mcp import Client
    from pydantic import SecretStr
    from tests.fakefal import VALID_KEY

    from happyhorse_mcp.config import Settings
    from happyhorse_mcp.domain.budget import SpendLimits
    from happyhorse_mcp.server import create_server

    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakefal", "--queue-seconds", "1", "--run-seconds", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    stall = 0.0
    try:
        assert fake.stdout is not None
        url = fake.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as data:
            settings = Settings(
                fal_key=SecretStr(VALID_KEY),
                queue_url=url,
                data_dir=Path(data),
                limits=SpendLimits(10_000, 10_000, 10_000),
            )
            completed = 0
            async with Client(create_server(settings)) as client, anyio.create_task_group() as tg:
                finished = anyio.Event()

                async def watch_loop() -> None:
                    nonlocal stall
                    while not finished.is_set():
                        before = time.perf_counter()
                        await anyio.sleep(0.005)
                        stall = max(stall, time.perf_counter() - before - 0.005)

                async def one(n: int) -> None:
                    nonlocal completed
                    result = await client.call_tool("generate_video", {"prompt": f"bench {n}", "wait_seconds": 120})
                    if result.structured_content and result.structured_content["status"] == "completed":
                        completed += 1

                tg.start_soon(watch_loop)
                async with anyio.create_task_group() as calls:
                    for n in range(jobs):
                        calls.start_soon(one, n)
                finished.set()
    finally:
        fake.terminate()
        fake.wait()
    return completed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, stall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=100)
    args = parser.parse_args()

    starts = cold_starts(args.runs)
    lags, per_job = anyio.run(completion_lag, args.jobs)
    short_job = anyio.run(requests_per_job, 10.0, 1.0)
    long_job = anyio.run(requests_per_job, 300.0, 30.0)
    completed, peak_rss, stall = anyio.run(concurrency, args.concurrent)

    floor = starts[1]
    ms = sorted(v * 1000 for v in lags)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(
        f"# Benchmarks\n\nRun {time.strftime('%Y-%m-%d')} with `.venv/bin/python bench/run.py` on "
        f"{platform.machine()}, "
        f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}.\n"
    )
    print(f"## Cold start (median of {args.runs} fresh processes each, interleaved; spawn to response)\n")
    print(
        "| server | initialize | first tools/list | vs floor (tools/list) | tools/list bytes | model-visible bytes |\n"
        "|---|---|---|---|---|---|"
    )
    floor_median = statistics.median(floor.tools_list)
    for entry in starts:
        ratio = statistics.median(entry.tools_list) / floor_median
        print(
            f"| {entry.name} | {spread(entry.initialize)} | {spread(entry.tools_list)} | {ratio:.2f}x | "
            f"{entry.tools_bytes:,} | {entry.model_bytes:,} |"
        )
    print(
        f"\n## Completion lag ({args.jobs} jobs)\n\nFrom the fake marking a job complete to the tool result reaching "
        f"the client: median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms. "
        f"Requests to fal per job: {per_job}.\n"
    )
    print(
        f"## Requests to fal per job\n\n| job | requests |\n|---|---|\n| 10 s (real time) | {short_job} |\n"
        f"| 5 min (fake clock 30x) | {long_job} |\n"
    )
    print(
        f"## {args.concurrent} jobs at once in one server process\n\nCompleted: {completed}/{args.concurrent}; "
        f"peak RSS {peak_rss:.0f} MB; longest event-loop stall {stall * 1000:.1f} ms.\n"
    )


if __name__ == "__main__":
    main()
