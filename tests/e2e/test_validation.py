"""Arguments are checked against fal's documented limits before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from ..fakefal import FakeFal
from ..support import text_of

pytestmark = pytest.mark.anyio

URL = "https://example.com/a.png"
BAD: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "generate_video",
        {"prompt": "x", "duration": 2},
        ["Invalid argument duration: 2 was given; it must be at least 3."],
    ),
    (
        "generate_video",
        {"prompt": "x", "duration": 16},
        ["Invalid argument duration: 16 was given; it must be at most 15."],
    ),
    (
        "generate_video",
        {"prompt": "x", "duration": 5.5},
        ["Invalid argument duration: 5.5 was given; it must be a whole number."],
    ),
    ("generate_video", {"prompt": ""}, ["Invalid argument prompt: '' was given; it must not be empty."]),
    ("generate_video", {"prompt": "   "}, ["Invalid argument prompt: '   ' was given; it must contain text"]),
    (
        "generate_video",
        {"prompt": "x" * 2501},
        [
            "Invalid argument prompt: a text of 2501 characters ('xxx",
            "...) was given; it must have at most 2500 characters.",
        ],
    ),
    (
        "generate_video",
        {"prompt": "x", "resolution": "4k"},
        ["Invalid argument resolution: '4k' was given; it must be one of '720p' or '1080p'."],
    ),
    ("generate_video", {"prompt": "x", "aspect_ratio": "21:9"}, ["aspect_ratio", "version 1.0 offers", "21:9"]),
    ("generate_video", {"prompt": "x", "aspect_ratio": "2:1", "version": "1.1"}, ["aspect_ratio", "2:1"]),
    (
        "generate_video",
        {"prompt": "x", "version": "2.0"},
        ["Invalid argument version: '2.0' was given; it must be one of '1.0' or '1.1'."],
    ),
    ("generate_video", {"prompt": "x", "seed": -1}, ["Invalid argument seed: -1 was given; it must be at least 0."]),
    (
        "generate_video",
        {"prompt": "x", "seed": 2**31},
        ["Invalid argument seed: 2147483648 was given; it must be at most 2147483647."],
    ),
    (
        "generate_video",
        {"prompt": "x", "wait_seconds": -1},
        ["Invalid argument wait_seconds: -1 was given; it must be at least 0."],
    ),
    (
        "image_to_video",
        {"image_url": "ftp://example.com/a.png"},
        ["Invalid argument image_url: 'ftp://example.com/a.png' was given; it must be an http(s) URL, a data: URI"],
    ),
    ("image_to_video", {"image_url": "/etc/passwd"}, ["image_url", "no folder is allowed", "HAPPYHORSE_ALLOWED_DIRS"]),
    (
        "image_to_video",
        {"image_url": "data:image/png;base64"},
        ["Invalid argument image_url: 'data:image/png;base64' was given; it must be a data: URI with a ','"],
    ),
    (
        "reference_to_video",
        {"prompt": "character1", "image_urls": []},
        ["Invalid argument image_urls: [] was given; it must not be empty."],
    ),
    (
        "reference_to_video",
        {"prompt": "character1", "image_urls": [URL] * 10},
        ["Invalid argument image_urls: a list of 10 items was given; it must list at most 9 item(s)."],
    ),
    (
        "reference_to_video",
        {"prompt": "character1", "image_urls": [URL, "gopher://example.com/passwd"]},
        ["Invalid argument image_urls.1: 'gopher://example.com/passwd' was given; it must be an http(s) URL"],
    ),
    (
        "edit_video",
        {"video_url": URL, "prompt": "swap", "reference_image_urls": [URL] * 6},
        ["Invalid argument reference_image_urls: a list of 6 items was given; it must list at most 5 item(s)."],
    ),
    (
        "edit_video",
        {"video_url": URL, "prompt": "swap", "audio_setting": "mute"},
        ["Invalid argument audio_setting: 'mute' was given; it must be one of"],
    ),
    (
        "edit_video",
        {"video_url": "javascript:alert(1)", "prompt": "swap"},
        ["Invalid argument video_url: 'javascript:alert(1)' was given"],
    ),
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
    assert text.endswith(("Nothing was submitted.", "Nothing was uploaded or submitted."))
    assert "pydantic" not in text
    assert "type=" not in text
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


READ_TOOLS_BAD: list[tuple[str, dict[str, Any], str]] = [
    ("list_jobs", {"limit": 0}, "Invalid argument limit: 0 was given; it must be at least 1."),
    (
        "get_job",
        {"job_id": "x", "wait_seconds": 700},
        "Invalid argument wait_seconds: 700 was given; it must be at most 600.",
    ),
    ("get_job", {}, "Missing argument job_id: it is required."),
]


@pytest.mark.parametrize(("tool", "arguments", "expected"), READ_TOOLS_BAD, ids=[t for t, _, _ in READ_TOOLS_BAD])
async def test_a_read_tool_refuses_a_bad_argument_in_the_same_words_without_talk_of_submitting(
    client: Client, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    result = await client.call_tool(tool, arguments)

    assert result.is_error
    assert text_of(result) == f"Error executing tool {tool}: {expected}"


async def test_a_missing_required_argument_is_named(client: Client, fake: FakeFal) -> None:
    result = await client.call_tool("generate_video", {"duration": 5})

    assert (
        text_of(result)
        == "Error executing tool generate_video: Missing argument prompt: it is required. Nothing was submitted."
    )
    assert fake.requests == []


async def test_a_huge_value_is_shown_cut_short(client: Client) -> None:
    result = await client.call_tool("generate_video", {"prompt": "y" * 5000})

    assert len(text_of(result)) < 300
