"""Against the real fal, with a real key: the cheapest job there is (720p, 3 s, USD 0.42).

Skipped unless FAL_KEY is set; run with `./scripts/test -m live`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mcp import Client

from happyhorse_mcp.config import Settings
from happyhorse_mcp.server import create_server

from ..prices import usd

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("FAL_KEY"), reason="needs FAL_KEY; spends a 3 s 720p clip's price"),
]


async def test_the_cheapest_real_job_completes_with_a_video(tmp_path: Path) -> None:
    settings = Settings.from_env({**os.environ, "HAPPYHORSE_DATA_DIR": str(tmp_path)})
    async with Client(create_server(settings)) as client:
        result = await client.call_tool(
            "generate_video",
            {"prompt": "a horse grazing in a meadow, static camera", "duration": 3, "resolution": "720p",
             "wait_seconds": 600},
        )  # fmt: skip
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["status"] == "completed"
    assert result.structured_content["video"]["url"].startswith("https://")
    assert result.structured_content["cost_usd"] == usd(duration=3, resolution="720p")
