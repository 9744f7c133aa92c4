"""What jobs leave behind in the server's memory: RSS growth over many jobs through one process, and what a job with
a 40 MB data: URI leaves once finished.

    .venv/bin/python bench/job_memory.py [--jobs 10000] [--data-mb 40]     # prints Markdown lines

The server runs in this process (the SDK's in-memory client, the SQLite store in a temporary data dir); the fake fal
runs in its own process, so its bookkeeping does not count. RSS is the current resident size (/proc/self/statm),
read after a garbage collection.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _malloc_trim() -> float:
    """RSS once glibc has returned its freed heap to the system: what is really held, not what the allocator kept."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mb()


def rss_mb() -> float:
    gc.collect()
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def run(jobs: int, data_mb: int, concurrency: int) -> None:
    from mcp import Client
    from pydantic import SecretStr
    from tests.fakefal import VALID_KEY

    from happyhorse_mcp.config import Settings
    from happyhorse_mcp.domain.budget import SpendLimits
    from happyhorse_mcp.server import create_server

    fake = subprocess.Popen([sys.executable, "-m", "tests.fakefal"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert fake.stdout is not None
        url = fake.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as data:
            settings = Settings(
                fal_key=SecretStr(VALID_KEY),
                queue_url=url,
                rest_url=url,
                cdn_url=url,
                data_dir=Path(data),
                limits=SpendLimits(1e9, 1e9, 1e9),
            )
            server = create_server(settings)
            async with Client(server) as client:

                async def batch(start: int, count: int) -> None:
                    async def one(n: int) -> None:
                        result = await client.call_tool(
                            "generate_video", {"prompt": f"bench {n}", "duration": 3, "wait_seconds": 60}
                        )
                        assert result.structured_content
                        assert result.structured_content["status"] == "completed"

                    async with anyio.create_task_group() as tg:
                        for n in range(start, start + count):
                            tg.start_soon(one, n)

                warmup = min(500, jobs)
                await batch(0, warmup)
                before = rss_mb()
                started = time.perf_counter()
                done = warmup
                while done < jobs:
                    await batch(done, min(concurrency, jobs - done))
                    done += concurrency
                elapsed = time.perf_counter() - started
                after = rss_mb()
                assert server.state is not None
                live = len((await server.state.backend()).runner.live)
                sys.stdout.write(
                    f"| {jobs - warmup:,} jobs after {warmup} warm-up jobs ({elapsed:.0f} s, {concurrency} at a time) "
                    "| "
                    f"RSS {before:.1f} -> {after:.1f} MB: {after - before:+.1f} MB; live jobs in memory afterwards: "
                    f"{live} |\n"
                )

                before = rss_mb()
                image = "data:image/png;base64," + base64.b64encode(os.urandom(data_mb * 1024 * 1024 * 3 // 4)).decode()
                result = await client.call_tool(
                    "image_to_video", {"image_url": image, "duration": 3, "wait_seconds": 60}
                )
                assert result.structured_content
                assert result.structured_content["status"] == "completed"
                del image, result
                # The SDK's session loop holds the last message it carried until the next one: send one.
                await client.call_tool("estimate_cost", {"operation": "text-to-video"})
                after = rss_mb()
                trimmed = _malloc_trim()
                sys.stdout.write(
                    f"| one job with a {data_mb} MB data: URI, finished | RSS {before:.1f} -> {after:.1f} MB "
                    f"({after - before:+.1f} MB); {trimmed:.1f} MB ({trimmed - before:+.1f} MB) once glibc returns "
                    "the heap it keeps (malloc_trim) |\n"
                )
    finally:
        fake.terminate()
        fake.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--data-mb", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    anyio.run(run, args.jobs, args.data_mb, args.concurrency)


if __name__ == "__main__":
    main()
