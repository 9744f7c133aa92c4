"""An agent-style run: plan a three-shot story, estimate the total, then make the shots one by one.

    FAL_KEY=... .venv/bin/python examples/three_shot_story.py [--yes]

Without --yes (or without FAL_KEY) it stops after the estimate, so you can see the price first. The shots share a
seed so the look stays close from one to the next; each is saved as ./shot-N.mp4.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

HERE = Path.cwd()
SHOTS = [
    ("A grey mare stands alone at the edge of a misty beach at dawn, wide establishing shot, static camera, "
     "soft waves and distant gulls", 5),
    ("The mare breaks into a gallop through the shallow surf, low tracking shot alongside her, spray catching the "
     "first sunlight, thundering hooves and splashing water", 5),
    ("Close-up of the mare's face as she slows and breathes out, slow dolly-in, golden backlight, calm waves and "
     "her heavy breathing", 4),
]  # fmt: skip
SEED = 4242
MAKES_VIDEOS = "FAL_KEY" in os.environ or os.environ.get("HAPPYHORSE_SANDBOX") == "1"
SERVER = StdioServerParameters(
    command=sys.executable,
    args=["-m", "happyhorse_mcp"],
    # The caller's environment, added to: a proxy, a CA bundle, HAPPYHORSE_SANDBOX=1 all reach the server.
    env={**os.environ, "HAPPYHORSE_ALLOWED_DIRS": str(HERE)},
)


async def structured(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        raise SystemExit(" ".join(getattr(block, "text", "") for block in result.content))
    return result.structured_content or {}


async def main(go: bool) -> None:
    async with Client(SERVER) as client:
        total = 0.0
        for n, (_, seconds) in enumerate(SHOTS, 1):
            cost = await structured(
                client, "estimate_cost", {"operation": "text-to-video", "duration": seconds, "resolution": "720p"}
            )
            total += cost["usd"]
            print(f"shot {n}: {seconds} s, USD {cost['usd']:.2f}")
        print(f"total: USD {total:.2f} for {len(SHOTS)} shots")
        if not go or not MAKES_VIDEOS:
            print("Stopping here: set FAL_KEY (or HAPPYHORSE_SANDBOX=1) and pass --yes to make the shots.")
            return
        for n, (prompt, seconds) in enumerate(SHOTS, 1):
            arguments = {
                "prompt": prompt,
                "duration": seconds,
                "resolution": "720p",
                "seed": SEED,
                "idempotency_key": f"three-shot-story-{SEED}-{n}",  # a rerun returns the shot instead of paying again
                "save_to": str(HERE / f"shot-{n}.mp4"),
            }
            job = await structured(client, "generate_video", arguments)
            while job["status"] in ("submitting", "queued", "running"):
                job = await structured(client, "get_job", {"job_id": job["job_id"], "wait_seconds": 50})
            print(f"shot {n}: {job['status']}, {(job.get('local_file') or job.get('video') or {}).get('path', '')}")


if __name__ == "__main__":
    anyio.run(main, "--yes" in sys.argv[1:])
