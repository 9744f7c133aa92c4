"""Arguments are checked against fal's documented limits before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from ..fakefal import FakeFal

pytestmark = pytest.mark.anyio

URL = "https://example.com/a.png"
BAD: list[tuple[str, dict[str, Any], list[str]]] = [
    ("generate_video", {"prompt": "x", "duration": 2}, ["duration", "greater than or equal to 3", "2"]),
    ("generate_video", {"prompt": "x", "duration": 16}, ["duration", "less than or equal to 15", "16"]),
    ("generate_video", {"prompt": "x", "duration": 5.5}, ["duration", "integer", "5.5"]),
    ("generate_video", {"prompt": ""}, ["prompt", "at least 1 character"]),
    ("generate_video", {"prompt": "   "}, ["prompt", "must contain text", "input_value='   '"]),
    ("generate_video", {"prompt": "x" * 2501}, ["prompt", "at most 2500 characters"]),
    ("generate_video", {"prompt": "x", "resolution": "4k"}, ["resolution", "'720p' or '1080p'", "4k"]),
    ("generate_video", {"prompt": "x", "aspect_ratio": "21:9"}, ["aspect_ratio", "version 1.0 offers", "21:9"]),
    ("generate_video", {"prompt": "x", "aspect_ratio": "2:1", "version": "1.1"}, ["aspect_ratio", "2:1"]),
    ("generate_video", {"prompt": "x", "version": "2.0"}, ["version", "'1.0' or '1.1'", "2.0"]),
    ("generate_video", {"prompt": "x", "seed": -1}, ["seed", "greater than or equal to 0", "-1"]),
    ("generate_video", {"prompt": "x", "seed": 2**31}, ["seed", "2147483647", "2147483648"]),
    ("generate_video", {"prompt": "x", "wait_seconds": -1}, ["wait_seconds", "greater than or equal to 0"]),
    ("image_to_video", {"image_url": "ftp://example.com/a.png"}, ["image_url", "http(s) URL, a data: URI", "ftp"]),
    ("image_to_video", {"image_url": "/etc/passwd"}, ["image_url", "no folder is allowed", "HAPPYHORSE_ALLOWED_DIRS"]),
    ("image_to_video", {"image_url": "data:image/png;base64"}, ["image_url", "data: URI needs a ','"]),
    ("reference_to_video", {"prompt": "character1", "image_urls": []}, ["image_urls", "at least 1 item"]),
    ("reference_to_video", {"prompt": "character1", "image_urls": [URL] * 10}, ["image_urls", "at most 9 items"]),
    (
        "reference_to_video",
        {"prompt": "character1", "image_urls": [URL, "gopher://example.com/passwd"]},
        ["image_urls.1", "http(s) URL", "gopher://example.com/passwd"],
    ),
    (
        "edit_video",
        {"video_url": URL, "prompt": "swap", "reference_image_urls": [URL] * 6},
        ["reference_image_urls", "at most 5 items"],
    ),
    ("edit_video", {"video_url": URL, "prompt": "swap", "audio_setting": "mute"}, ["audio_setting", "mute"]),
    ("edit_video", {"video_url": "javascript:alert(1)", "prompt": "swap"}, ["video_url", "javascript:alert(1)"]),
]


@pytest.mark.parametrize(("tool", "arguments", "expected"), BAD, ids=[f"{t}-{'-'.join(a)}" for t, a, _ in BAD])
async def test_a_call_outside_fal_s_limits_is_refused_naming_field_limit_and_value(
    client: Client, fake: FakeFal, tool: str, arguments: dict[str, Any], expected: list[str]
) -> None:
    result = await client.call_tool(tool, arguments)

    assert result.is_error
    text = " ".join(getattr(c, "text", "") for c in result.content)
    for fragment in expected:
        assert fragment in text
    assert fake.requests == []


async def test_version_1_1_accepts_its_wider_aspect_ratios(client: Client, fake: FakeFal) -> None:
    result = await client.call_tool("generate_video", {"prompt": "x", "aspect_ratio": "21:9", "version": "1.1"})
    assert not result.is_error
    assert fake.submits[0].endpoint_id == "alibaba/happy-horse/v1.1/text-to-video"
    assert fake.submits[0].arguments["aspect_ratio"] == "21:9"


async def test_a_missing_seed_is_left_for_fal_to_choose(client: Client, fake: FakeFal) -> None:
    await client.call_tool("generate_video", {"prompt": "x"})
    assert "seed" not in fake.submits[0].arguments
    assert fake.submits[0].arguments["duration"] == 5
    assert fake.submits[0].arguments["enable_safety_checker"] is True
