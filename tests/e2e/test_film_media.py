"""The fake fal's clips are real media when asked (`real_clips`): each request its own colours and tone, with sound,
lasting what was asked; two of them, made through the server and read back as its video resources, join into one
film whose second shot could start from the first's last frame."""

from __future__ import annotations

import base64
from io import BytesIO
from pathlib import Path

import av
import pytest
from mcp import Client
from mcp.types import BlobResourceContents
from PIL import Image

from happyhorse_mcp.media.assemble import Canvas, assemble
from happyhorse_mcp.media.frames import last_frame_png
from happyhorse_mcp.media.loudness import silences
from happyhorse_mcp.server import HappyHorseServer

from ..fakefal import FakeFal

pytestmark = pytest.mark.anyio


async def _video(client: Client, prompt: str, duration: int, folder: Path) -> Path:
    made = await client.call_tool("generate_video", {"prompt": prompt, "duration": duration, "resolution": "720p"})
    assert made.structured_content is not None
    (content,) = (await client.read_resource(f"happyhorse://jobs/{made.structured_content['job_id']}/video")).contents
    assert isinstance(content, BlobResourceContents)
    path = folder / f"{prompt}.mp4"
    path.write_bytes(base64.b64decode(content.blob))
    return path


async def test_two_clips_of_the_fake_are_distinct_real_media_and_join_into_one_film(
    server: HappyHorseServer, fake: FakeFal, tmp_path: Path
) -> None:
    fake.real_clips = True
    async with Client(server) as client:  # one era: this is about the media, not the protocol
        first = await _video(client, "first", 3, tmp_path)
        second = await _video(client, "second", 4, tmp_path)
    for path, seconds in ((first, 3), (second, 4)):
        with av.open(str(path)) as container:
            assert abs(float(container.duration or 0) / av.time_base - seconds) < 0.2
            assert container.streams.audio, "with sound"
    assert first.read_bytes() != second.read_bytes()
    with Image.open(BytesIO(last_frame_png(first))) as end_of_first, Image.open(BytesIO(last_frame_png(second))) as end:
        assert end_of_first.convert("RGB").getpixel((5, 5)) != end.convert("RGB").getpixel((5, 5))
    film = assemble([first, second], tmp_path / "film.mp4", canvas=Canvas.of(first), crossfade_seconds=0.5)
    assert abs(film.seconds - 6.5) <= 1 / 24
    assert silences(film.path) == []
