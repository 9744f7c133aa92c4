"""review_video: the model sees frames of what it made (a colour per second, so a test can tell which second each
frame came from) and hears whether there is sound, from the saved copy or from fal, with clear errors."""

from __future__ import annotations

import base64
import dataclasses
import functools
import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import BlobResourceContents, ImageContent
from PIL import Image

from happyhorse_mcp.config import Settings
from happyhorse_mcp.review.sheet import GAP, columns

from ..fakefal import FakeFal, Fault
from ..media_factory import SECOND_COLOURS, encoded_video
from ..support import make_server, text_of

pytestmark = pytest.mark.anyio

ASK = {"prompt": "a horse", "duration": 4, "resolution": "720p", "aspect_ratio": "16:9", "wait_seconds": 30}


@functools.cache
def clip(seconds: int = 4, audio: str | None = "tone") -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return encoded_video(Path(folder) / "clip.mp4", seconds=seconds, audio=audio).read_bytes()


async def _made(client: Client, **arguments: Any) -> str:
    result = await client.call_tool("generate_video", {**ASK, **arguments})
    assert result.structured_content is not None
    assert result.structured_content["status"] == "completed", text_of(result)
    return str(result.structured_content["job_id"])


def _sheet(result: Any) -> Image.Image:
    (image,) = [c for c in result.content if isinstance(c, ImageContent)]
    assert image.mime_type == "image/jpeg"
    return Image.open(io.BytesIO(base64.b64decode(image.data)))


def _cell_colours(sheet: Image.Image, count: int, frame: tuple[int, int] = (320, 180)) -> list[tuple[int, ...]]:
    """The colour at the middle of each cell, in reading order."""
    cols = columns(*frame, count)
    rows = -(-count // cols)
    width = (sheet.width - GAP * (cols - 1)) // cols
    height = (sheet.height - GAP * (rows - 1)) // rows
    return [
        sheet.getpixel(((i % cols) * (width + GAP) + width // 2, (i // cols) * (height + GAP) + height // 3))  # type: ignore[misc]
        for i in range(count)
    ]


def _near(colour: tuple[int, ...], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 24 for a, b in zip(colour, expected, strict=True))


async def test_each_frame_of_the_contact_sheet_shows_its_own_second(client: Client, fake: FakeFal) -> None:
    fake.video_bytes = clip()
    job_id = await _made(client)

    result = await client.call_tool("review_video", {"job_id": job_id, "frames": 4})

    assert not result.is_error, text_of(result)
    colours = _cell_colours(_sheet(result), 4)
    assert all(_near(colour, SECOND_COLOURS[second]) for second, colour in enumerate(colours)), colours
    review = result.structured_content
    assert review is not None
    assert review["frames_at_seconds"] == [0.5, 1.5, 2.5, 3.5]
    assert (review["width"], review["height"], review["codec"], review["fps"]) == (320, 180, "h264", 12.0)
    assert review["duration_seconds"] == 4.0
    assert review["source"] == "fal"
    assert review["file_size_bytes"] == len(clip())
    assert "0:00.5, 0:01.5, 0:02.5, 0:03.5" in text_of(result)


async def test_at_seconds_shows_those_moments_in_time_order(client: Client, fake: FakeFal) -> None:
    fake.video_bytes = clip()
    job_id = await _made(client)

    result = await client.call_tool("review_video", {"job_id": job_id, "at_seconds": [3.2, 0.1]})

    assert result.structured_content is not None
    assert result.structured_content["frames_at_seconds"] == [0.1, 3.2]
    first, last = _cell_colours(_sheet(result), 2)
    assert _near(first, SECOND_COLOURS[0])
    assert _near(last, SECOND_COLOURS[3])


async def test_a_moment_past_the_end_is_refused_naming_the_length(client: Client, fake: FakeFal) -> None:
    fake.video_bytes = clip()
    job_id = await _made(client)

    result = await client.call_tool("review_video", {"job_id": job_id, "at_seconds": [1, 9]})

    assert result.is_error
    assert "at_seconds 9 is past the end of this 4.00 s video" in text_of(result)


@pytest.mark.parametrize(
    ("audio", "silent", "said"),
    [("tone", False, "audible"), ("silence", True, "silent")],
)
async def test_the_sound_is_measured_and_silence_is_called_silent(
    client: Client, fake: FakeFal, audio: str, silent: bool, said: str
) -> None:
    fake.video_bytes = clip(audio=audio)
    job_id = await _made(client)

    result = await client.call_tool("review_video", {"job_id": job_id})

    assert result.structured_content is not None
    sound = result.structured_content["audio"]
    assert (sound["present"], sound["codec"], sound["silent"]) == (True, "aac", silent)
    assert 3.9 <= sound["seconds"] <= 4.1
    if silent:
        assert sound["peak_dbfs"] <= -60
    else:
        assert -12 <= sound["mean_dbfs"] <= -6  # a sine at half of full scale: about -10 dBFS on average
    assert f"Sound: aac, 4.0 s, {said}" in text_of(result)


async def test_a_clip_without_a_sound_track_says_it_has_none(client: Client, fake: FakeFal) -> None:
    fake.video_bytes = clip(audio=None)
    job_id = await _made(client)

    result = await client.call_tool("review_video", {"job_id": job_id})

    assert result.structured_content is not None
    assert result.structured_content["audio"] == {
        "present": False,
        "codec": None,
        "seconds": None,
        "peak_dbfs": None,
        "mean_dbfs": None,
        "silent": None,
    }
    assert "Sound: none (the file has no sound track)." in text_of(result)


async def test_the_checks_compare_what_was_asked_with_what_was_made(client: Client, fake: FakeFal) -> None:
    fake.video_bytes = clip()  # 4 s of 320x180: the duration and the 16:9 shape match, 720p does not
    job_id = await _made(client)

    result = await client.call_tool("review_video", {"job_id": job_id})

    assert result.structured_content is not None
    checks = {c["name"]: (c["asked"], c["made"], c["matches"]) for c in result.structured_content["checks"]}
    assert checks == {
        "duration": ("4 s", "4.00 s", True),
        "resolution": ("720p", "320x180", False),
        "aspect_ratio": ("16:9", "1.778 (320:180)", True),
    }
    assert result.structured_content["matches_request"] is False
    assert "resolution asked 720p, made 320x180: DOES NOT MATCH" in text_of(result)


async def test_the_saved_copy_is_reviewed_without_asking_fal_again(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    fake.video_bytes = clip()
    allowed = tmp_path / "videos"
    allowed.mkdir()
    async with Client(make_server(dataclasses.replace(settings, allowed_dirs=(allowed,)))) as client:
        job_id = await _made(client, save_to=str(allowed / "horse.mp4"))
        downloads = fake.downloads
        result = await client.call_tool("review_video", {"job_id": job_id})

    assert result.structured_content is not None
    assert result.structured_content["source"] == "saved copy"
    assert fake.downloads == downloads


async def test_a_review_from_fal_leaves_no_temporary_file_behind(
    client: Client, fake: FakeFal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    fake.video_bytes = clip()
    job_id = await _made(client)

    result = await client.call_tool("review_video", {"job_id": job_id})

    assert not result.is_error
    assert list(scratch.iterdir()) == []


async def test_a_job_still_running_says_how_to_wait(settings: Settings, fake: FakeFal) -> None:
    fake.hold = True  # it stays in the queue until the test says otherwise
    async with Client(make_server(settings)) as client:
        started = await client.call_tool("generate_video", {**ASK, "wait_seconds": 0})
        assert started.structured_content is not None
        job_id = started.structured_content["job_id"]
        result = await client.call_tool("review_video", {"job_id": job_id})

    assert result.is_error
    assert f"Job {job_id} has no video yet" in text_of(result)
    assert "wait_seconds=50 until it is completed, then try again" in text_of(result)


async def test_an_expired_video_says_where_it_was(client: Client, fake: FakeFal) -> None:
    fake.video_bytes = clip()
    job_id = await _made(client)
    fake.fail_next("download", Fault(status=404, body=b'{"detail": "Not found"}'))

    result = await client.call_tool("review_video", {"job_id": job_id})

    assert result.is_error
    text = text_of(result)
    assert f"The video of job {job_id} could not be fetched from http" in text
    assert "answered HTTP 404" in text
    assert "fal keeps outputs for a limited time" in text


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2048, "is not a video that can be decoded"),
        (b"<html>Not a video</html>", "The file is not a video that can be decoded"),
    ],
    ids=["an-empty-mp4-shell", "html"],
)
async def test_a_file_that_is_not_a_video_is_called_so(client: Client, fake: FakeFal, body: bytes, said: str) -> None:
    fake.video_bytes = body
    job_id = await _made(client)

    result = await client.call_tool("review_video", {"job_id": job_id})

    assert result.is_error
    assert said in text_of(result)


async def test_a_cut_short_video_is_called_damaged_not_reviewed_half(client: Client, fake: FakeFal) -> None:
    fake.video_bytes = clip()[: len(clip()) // 2]
    job_id = await _made(client)

    result = await client.call_tool("review_video", {"job_id": job_id})

    assert result.is_error
    assert "damaged or cut short (FFmpeg: Invalid data found when processing input)" in text_of(result)


async def test_the_contact_sheet_is_also_a_resource(client: Client, fake: FakeFal) -> None:
    fake.video_bytes = clip()
    job_id = await _made(client)

    read = await client.read_resource(f"happyhorse://jobs/{job_id}/contact-sheet")

    (content,) = read.contents
    assert isinstance(content, BlobResourceContents)
    assert content.mime_type == "image/jpeg"
    sheet = Image.open(io.BytesIO(base64.b64decode(content.blob)))
    assert sheet.format == "JPEG"
    assert 1000 <= max(sheet.size) <= 1024  # sized for a model to look at


async def test_the_contact_sheet_resource_is_made_once_per_job(client: Client, fake: FakeFal) -> None:
    fake.video_bytes = clip()
    job_id = await _made(client)

    first = await client.read_resource(f"happyhorse://jobs/{job_id}/contact-sheet")
    downloads = fake.downloads
    again = await client.read_resource(f"happyhorse://jobs/{job_id}/contact-sheet")

    assert fake.downloads == downloads  # the player asks on every view; the video is not fetched again
    assert again.contents == first.contents


async def test_a_video_of_hostile_dimensions_is_refused_before_a_frame_is_decoded(
    client: Client, fake: FakeFal, tmp_path: Path
) -> None:
    # 6 KB on disk, 37.5 MB a decoded frame: the file's size says nothing of what decoding it costs.
    fake.video_bytes = encoded_video(tmp_path / "huge.mp4", seconds=1, width=5000, height=5000, fps=1).read_bytes()
    job_id = await _made(client)

    result = await client.call_tool("review_video", {"job_id": job_id})

    assert result.is_error
    assert "frames are 5000x5000, more than a review decodes" in text_of(result)
