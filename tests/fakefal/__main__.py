"""Serve the fake fal on a loopback port from the command line (benchmarks, manual runs).

    python -m tests.fakefal [--port 0] [--video-mb 0] [--queue-seconds 0] [--run-seconds 0] [--run-spread 0]

Prints the base URL on the first line of stdout, then serves until SIGTERM, when it prints a JSON line of what
it saw (requests by route, jobs submitted) and exits.
"""

from __future__ import annotations

import argparse
import json
import signal

import anyio

from .app import FakeFal
from .serve import serve


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakefal")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--video-mb", type=int, default=0, help="size of the finished videos (default: 2 KB)")
    parser.add_argument("--queue-seconds", type=float, default=0.0)
    parser.add_argument("--run-seconds", type=float, default=0.0)
    parser.add_argument("--run-spread", type=float, default=0.0, help="each run lasts up to this much longer")
    args = parser.parse_args()
    fake = FakeFal(queue_seconds=args.queue_seconds, run_seconds=args.run_seconds, run_spread=args.run_spread)
    if args.video_mb:
        fake.video_bytes = b"\0" * (args.video_mb * 1024 * 1024)
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async with serve(fake, port=args.port) as url:
            print(url, flush=True)
            async for _ in signals:
                break
    routes: dict[str, int] = {}
    for route, _path in fake.requests:
        routes[route] = routes.get(route, 0) + 1
    seen = {"requests": routes, "submits": len(fake.submits), "webhooks_posted_at": fake.webhooks.posted_at}
    print(json.dumps(seen), flush=True)


anyio.run(main)
