"""Real H.264/AAC clips, made here with PyAV: the sandbox's stand-in for HappyHorse's videos (a test card naming the
prompt's first words and the take's seed, and a tone), and any clip whose frames a caller paints."""

from __future__ import annotations

import array
import io
import math
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from PIL.Image import Image

SAMPLE_RATE = 48000
# Seven bars, as on a broadcast test card.
BARS = ((192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0), (0, 0, 192))


def encode_mp4(
    paint: Callable[[int], Image],
    *,
    seconds: int,
    width: int,
    height: int,
    fps: int = 24,
    audio: str | None = "tone",
    codec: str = "libx264",
    hertz: float = 440.0,
    volume: float = 0.5,
) -> bytes:
    """An MP4 of `seconds`: second N shows `paint(N)` (painted once, shown for the whole second); the sound is a tone
    of `hertz` at `volume`, silence, or none (`audio=None`)."""
    import av
    from av.video.stream import VideoStream

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        picture = cast(VideoStream, container.add_stream(codec, rate=fps))
        picture.width, picture.height, picture.pix_fmt = width, height, "yuv420p"
        picture.options = {"g": str(fps), **({"preset": "ultrafast"} if codec == "libx264" else {})}
        sound = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if audio else None
        for second in range(seconds):
            shown = paint(second)
            for index in range(second * fps, (second + 1) * fps):
                frame = av.VideoFrame.from_image(shown)  # type: ignore[no-untyped-call]
                frame.pts, frame.time_base = index, Fraction(1, fps)
                container.mux(picture.encode(frame))
        container.mux(picture.encode())
        if sound is not None:
            total = seconds * SAMPLE_RATE
            if audio == "tone":
                # A tone of whole hertz repeats every SAMPLE_RATE / gcd(SAMPLE_RATE, hertz) samples: made once.
                period = SAMPLE_RATE // math.gcd(SAMPLE_RATE, round(hertz)) if hertz == round(hertz) else total
                step = 2 * math.pi * hertz / SAMPLE_RATE
                cycle = array.array("f", [volume * math.sin(step * i) for i in range(period)])
                samples = (cycle * -(-total // period))[:total]
            else:
                samples = array.array("f", bytes(4 * total))
            for start in range(0, total, 1024):
                count = min(1024, total - start)
                chunk = av.AudioFrame(format="flt", layout="mono", samples=count)
                chunk.planes[0].update(samples[start : start + count].tobytes())
                chunk.sample_rate, chunk.pts = SAMPLE_RATE, start
                container.mux(sound.encode(chunk))
            container.mux(sound.encode())
    return out.getvalue()


def frame_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    """The frame HappyHorse gives for a resolution (the short side) and an aspect ratio, in even pixels."""
    short = 1080 if resolution == "1080p" else 720
    across, down = (int(part) for part in aspect_ratio.split(":"))
    if across >= down:
        return 2 * round(short * across / down / 2), short
    return short, 2 * round(short * down / across / 2)


def test_card_clip(*, prompt: str, seed: int, seconds: int, width: int, height: int) -> bytes:
    """The sandbox's clip: colour bars under a band that says it is the sandbox, the prompt's first words, the seed
    and the second; a tone whose pitch follows the seed, so two takes sound apart."""
    from PIL import Image, ImageDraw, ImageFont

    words = " ".join(prompt.split()[:6]) or "(no prompt)"
    font = ImageFont.load_default(size=max(12, min(width, height) // 20))

    def fitted(draw: ImageDraw.ImageDraw, text: str) -> str:
        while text and draw.textlength(text, font=font) > width * 0.9:
            text = text[:-2] + "…"
        return text

    def paint(second: int) -> Image.Image:
        card = Image.new("RGB", (width, height))
        draw = ImageDraw.Draw(card)
        bar = -(-width // len(BARS))
        for index, colour in enumerate(BARS):
            draw.rectangle((index * bar, 0, (index + 1) * bar, height), fill=colour)
        band = height // 3
        draw.rectangle((0, band, width, 2 * band), fill=(16, 16, 16))
        lines = ["SANDBOX: not HappyHorse", "nothing billed", words, f"seed {seed}, {second + 1} s of {seconds} s"]
        for row, line in enumerate(lines):
            where = (width // 20, band + band * (row + 0.3) // len(lines))
            draw.text(where, fitted(draw, line), fill=(240, 240, 240), font=font)
        return card

    return encode_mp4(paint, seconds=seconds, width=width, height=height, hertz=220.0 + seed % 440)
