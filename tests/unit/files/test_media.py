"""Local files checked from their own headers against fal's limits, never their names, and refused when swapped
after the check: files/media.py without a server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from happyhorse_mcp.domain.catalog import VIDEO_RULE, image_rule
from happyhorse_mcp.domain.errors import InvalidMediaError
from happyhorse_mcp.files.media import check_local, open_verified, roots_from_uris

from ... import media_factory


@pytest.mark.parametrize(
    ("size", "reference", "message"),
    [((200, 600), False, "each side at least 300 px"), ((1000, 300), False, "aspect ratio between 1:2.5 and 2.5:1"),
     ((350, 350), True, "each side at least 400 px")],
)  # fmt: skip
def test_images_are_checked_against_fal_s_limits_from_their_headers(
    allowed: Path, size: tuple[int, int], reference: bool, message: str
) -> None:
    picture = media_factory.image(allowed / "x.png", *size)
    with pytest.raises(InvalidMediaError, match=message):
        check_local("image_url", str(picture), [allowed], image_rule("1.0", reference=reference))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"seconds": 61}, "3 to 60 s"), ({"seconds": 2}, "3 to 60 s"), ({"width": 3840, "height": 2160}, "at most 2160"),
     ({"width": 320, "height": 240}, "at least 320 px")],
)  # fmt: skip
def test_videos_are_checked_against_fal_s_limits_from_their_container(
    allowed: Path, kwargs: dict[str, Any], message: str
) -> None:
    clip = media_factory.video(allowed / "clip.mp4", **kwargs)
    with pytest.raises(InvalidMediaError, match=message):
        check_local("video_url", str(clip), [allowed], VIDEO_RULE)


def test_a_mov_is_accepted_and_a_renamed_image_is_not_a_video(allowed: Path) -> None:
    assert check_local("video_url", str(media_factory.video(allowed / "a.mov", brand=b"qt  ")), [allowed], VIDEO_RULE)
    fake_clip = media_factory.image(allowed / "b.png")
    fake_clip.rename(allowed / "b.mp4")
    with pytest.raises(InvalidMediaError, match="not an MP4 or MOV"):
        check_local("video_url", str(allowed / "b.mp4"), [allowed], VIDEO_RULE)


def test_a_file_swapped_after_its_check_is_not_uploaded(allowed: Path) -> None:
    picture = media_factory.image(allowed / "x.png")
    checked = check_local("image_url", str(picture), [allowed], image_rule("1.0"))
    os.replace(media_factory.image(allowed / "other.png"), picture)
    with pytest.raises(InvalidMediaError, match="changed after it was checked"):
        open_verified(checked)
    picture.unlink()
    picture.symlink_to(allowed / "other.png")
    with pytest.raises(InvalidMediaError, match="changed after it was checked"):
        open_verified(checked)


def test_an_allowed_folder_that_does_not_exist_is_named_in_the_refusal(tmp_path: Path) -> None:
    picture = media_factory.image(tmp_path / "x.png")
    with pytest.raises(InvalidMediaError, match="does not exist on this machine"):
        check_local("image_url", str(picture), [tmp_path / "Pictures"], image_rule("1.0"))


def test_roots_are_read_from_file_uris_only() -> None:
    assert roots_from_uris(["file:///home/a/work", "https://example.com/x", "file://localhost/srv"]) == [
        Path("/home/a/work"),
        Path("/srv"),
    ]
