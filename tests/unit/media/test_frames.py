"""A clip's last frame, what a shot that continues it starts from."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from happyhorse_mcp.media.frames import last_frame_png

from ... import media_factory


def test_a_clip_s_last_frame_is_the_picture_it_ends_on(tmp_path: Path) -> None:
    clip = media_factory.encoded_video(tmp_path / "clip.mp4", seconds=3, fps=12)
    with Image.open(BytesIO(last_frame_png(clip))) as picture:
        colour = picture.convert("RGB").getpixel((10, 10))
    expected = media_factory.SECOND_COLOURS[2]
    assert all(abs(a - b) <= 12 for a, b in zip(colour, expected, strict=True)), (colour, expected)  # type: ignore[arg-type]


def test_a_file_without_pictures_has_no_last_frame(tmp_path: Path) -> None:
    sound_only = tmp_path / "sound.mp4"
    import av

    with av.open(str(sound_only), "w") as container:
        stream = container.add_stream("aac", rate=48000, layout="mono")
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        frame.planes[0].update(bytes(frame.planes[0].buffer_size))
        frame.sample_rate, frame.pts = 48000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with pytest.raises(ValueError, match="has no picture to continue from"):
        last_frame_png(sound_only)
