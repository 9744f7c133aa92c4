"""Estimate, then make and save a short video, with the MCP SDK's client driving happyhorse-mcp over stdio.

    FAL_KEY=... .venv/bin/python examples/estimate_and_generate.py "a horse galloping along a beach at sunset"

Spends USD 0.42 (3 s at 720p) when FAL_KEY is set, and saves the clip as ./happyhorse.mp4; without a key, only the
estimate runs. With HAPPYHORSE_SANDBOX=1 instead of a key it makes the sandbox's test card, free (docs/sandbox.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

HERE = Path.cwd()
MAKES_VIDEOS = "FAL_KEY" in os.environ or os.environ.get("HAPPYHORSE_SANDBOX") == "1"
SERVER = StdioServerParameters(
    command=sys.executable,
    args=["-m", "happyhorse_mcp"],
    # The caller's environment (a proxy, a CA bundle, HAPPYHORSE_SANDBOX=1 reach the server), plus this folder: the
    # server may write only inside allowed folders, and the video is saved here.
    env={**os.environ, "HAPPYHORSE_ALLOWED_DIRS": str(HERE)},
)


async def show_progress(progress: float, total: float | None, message: str | None) -> None:
    print(f"  {message}", file=sys.stderr)


async def main(prompt: str) -> None:
    async with Client(SERVER) as client:
        estimate = await client.call_tool(
            "estimate_cost", {"operation": "text-to-video", "duration": 3, "resolution": "720p"}
        )
        assert estimate.structured_content is not None
        print(estimate.structured_content["summary"])
        if not MAKES_VIDEOS:
            print("Set FAL_KEY to make the video (or HAPPYHORSE_SANDBOX=1 to try it without a key).")
            return
        arguments = {"prompt": prompt, "duration": 3, "resolution": "720p", "save_to": str(HERE / "happyhorse.mp4")}
        result = await client.call_tool("generate_video", arguments, progress_callback=show_progress)
        job = result.structured_content or {}
        while job.get("status") in ("queued", "running"):
            result = await client.call_tool(
                "get_job", {"job_id": job["job_id"], "wait_seconds": 50}, progress_callback=show_progress
            )
            job = result.structured_content or {}
        for block in result.content:
            if block.type == "text":
                print(block.text)


if __name__ == "__main__":
    anyio.run(main, " ".join(sys.argv[1:]) or "a horse galloping along a beach at sunset, tracking shot")
