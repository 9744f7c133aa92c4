"""Serve the fake fal on a loopback port from the command line (benchmarks, manual runs).

    python -m tests.fakefal [--port 0] [--video-mb 0] [--queue-seconds 0] [--run-seconds 0]

Prints the base URL on the first line of stdout, then serves until killed.
"""

from __future__ import annotations

import argparse

import anyio

from .app import FakeFal
from .serve import serve


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakefal")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--video-mb", type=int, default=0, help="size of the finished videos (default: 2 KB)")
    parser.add_argument("--queue-seconds", type=float, default=0.0)
    parser.add_argument("--run-seconds", type=float, default=0.0)
    args = parser.parse_args()
    fake = FakeFal(queue_seconds=args.queue_seconds, run_seconds=args.run_seconds)
    if args.video_mb:
        fake.video_bytes = b"\0" * (args.video_mb * 1024 * 1024)
    async with serve(fake, port=args.port) as url:
        print(url, flush=True)
        await anyio.sleep_forever()


anyio.run(main)
