"""Paths an attacker or a slip of the keyboard can put in a call: each is refused before anything is paid, with a
message that names the argument and what is wrong, never a bare "Error executing tool <name>" (the SDK's words for a
crash, whose cause stays on the server)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from happyhorse_mcp.config import Settings
from happyhorse_mcp.domain.budget import SpendLimits

from .. import media_factory
from ..fakefal import FakeFal
from ..support import make_server, text_of

pytestmark = pytest.mark.anyio


def _server(settings: Settings, allowed: Path, **changes: Any) -> Any:
    return make_server(dataclasses.replace(settings, allowed_dirs=(allowed,), **changes))


@pytest.mark.parametrize(
    ("save_to", "said"),
    [
        ("{allowed}/clip\x00.mp4", "NUL"),
        ("~nosuchuser-happyhorse/clip.mp4", "no user"),
        ("{allowed}/" + "n" * 300 + ".mp4", "too long"),
    ],
    ids=["nul-byte", "unknown-user-home", "name-too-long"],
)
async def test_a_save_to_that_cannot_be_saved_is_refused_before_anything_is_paid(
    settings: Settings, fake: FakeFal, allowed: Path, save_to: str, said: str
) -> None:
    async with Client(_server(settings, allowed)) as client:
        result = await client.call_tool(
            "generate_video", {"prompt": "a horse", "save_to": save_to.format(allowed=allowed)}
        )
    assert result.is_error
    text = text_of(result)
    assert "generate_video: save_to:" in text, text
    assert said in text
    assert "Nothing was uploaded or submitted" in text
    assert fake.requests == []


async def test_a_local_file_that_grows_after_its_check_is_not_uploaded_and_says_so(
    settings: Settings, fake: FakeFal, allowed: Path
) -> None:
    picture = media_factory.image(allowed / "horse.png")

    async def grow_then_confirm(context: Any, params: ElicitRequestParams) -> ElicitResult:
        with picture.open("ab") as file:  # something still writes the file while the user reads the price
            file.write(b"\0" * 4096)
        return ElicitResult(action="accept", content={"confirm": True})

    strict = SpendLimits(confirm_above_usd=0.0)
    # On 2025-11-25 the question is asked mid-call, between the check and the upload (2026-07-28 checks again).
    server = _server(settings, allowed, limits=strict)
    async with Client(server, mode="legacy", elicitation_callback=grow_then_confirm) as client:
        result = await client.call_tool("image_to_video", {"image_url": str(picture)})
    assert result.is_error
    assert "image_url:" in text_of(result)
    assert "changed size after it was checked" in text_of(result)
    assert fake.submits == []


@pytest.mark.parametrize(
    "image_url", ["{allowed}/horse\x00.png", "~nosuchuser-happyhorse/horse.png", "{allowed}/" + "n" * 300 + ".png"]
)
async def test_a_local_media_path_that_cannot_be_read_is_refused_naming_the_argument(
    settings: Settings, fake: FakeFal, allowed: Path, image_url: str
) -> None:
    async with Client(_server(settings, allowed)) as client:
        result = await client.call_tool("image_to_video", {"image_url": image_url.format(allowed=allowed)})
    assert result.is_error
    assert "image_to_video: image_url: cannot resolve" in text_of(result), text_of(result)
    assert fake.requests == []
