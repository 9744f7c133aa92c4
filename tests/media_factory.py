"""Small real media files for tests: PNG/JPEG images from Pillow, and MP4/MOV containers built box by box."""

from __future__ import annotations

import functools
import hashlib
import os
import struct
from pathlib import Path

from PIL import Image


def image(path: Path, width: int = 640, height: int = 480, kind: str = "PNG") -> Path:
    Image.new("RGB", (width, height), (200, 120, 40)).save(path, kind)
    return path


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _matrix() -> bytes:
    return struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def video(path: Path, width: int = 1280, height: int = 720, seconds: float = 5.0, brand: bytes = b"isom") -> Path:
    """An MP4 (or, with brand b'qt  ', a MOV) whose moov box declares a video track of this size and length."""
    scale = 1000
    ticks = int(seconds * scale)
    mvhd = struct.pack(">B3xIIII", 0, 0, 0, scale, ticks) + struct.pack(">IH", 0x00010000, 0x0100)
    mvhd += b"\0" * 10 + _matrix() + b"\0" * 24 + struct.pack(">I", 2)
    tkhd = struct.pack(">B3xIIIII", 0, 0, 0, 1, 0, ticks) + b"\0" * 8 + struct.pack(">hhhh", 0, 0, 0, 0)
    tkhd += _matrix() + struct.pack(">II", width << 16, height << 16)
    hdlr = b"\0" * 8 + b"vide" + b"\0" * 12 + b"VideoHandler\0"
    trak = _box(b"trak", _box(b"tkhd", tkhd) + _box(b"mdia", _box(b"hdlr", hdlr)))
    ftyp = _box(b"ftyp", brand + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    path.write_bytes(ftyp + _box(b"moov", _box(b"mvhd", mvhd) + trak) + _box(b"mdat", b"\0" * 1024))
    return path


# One colour per second of a made clip, so a test can tell which second a frame came from.
SECOND_COLOURS: tuple[tuple[int, int, int], ...] = (
    (220, 30, 30),
    (30, 200, 30),
    (30, 30, 220),
    (230, 230, 40),
    (200, 40, 200),
    (40, 210, 210),
    (240, 240, 240),
    (120, 60, 20),
)


def encoded_video(
    path: Path,
    *,
    seconds: int = 3,
    width: int = 320,
    height: int = 180,
    fps: int = 12,
    audio: str | None = "tone",
    codec: str = "libx264",
    volume: float = 0.5,
    hertz: float = 440.0,
    first_colour: int = 0,
) -> Path:
    """A real H.264/AAC MP4: second N is filled with SECOND_COLOURS[first_colour + N]; the sound is a tone (`hertz`,
    amplitude `volume`), silence, or absent (audio=None)."""
    made = encoded_video_bytes(
        seconds=seconds,
        width=width,
        height=height,
        fps=fps,
        audio=audio,
        codec=codec,
        volume=volume,
        hertz=hertz,
        first_colour=first_colour,
    )
    path.write_bytes(made)
    return path


# Encoding is most of what a media test costs, and the fake and the tests ask for the same few clips again and again
# (about 6 s of CPU a run, each of four workers encoding its own): each is encoded once per process and, where
# pytest's cache is on, kept there between runs and workers (conftest.py sets CLIP_CACHE to its folder).
CLIP_CACHE: Path | None = None


@functools.cache
def encoded_video_bytes(
    *,
    seconds: int = 3,
    width: int = 320,
    height: int = 180,
    fps: int = 12,
    audio: str | None = "tone",
    codec: str = "libx264",
    volume: float = 0.5,
    hertz: float = 440.0,
    first_colour: int = 0,
) -> bytes:
    """`encoded_video`'s file, as bytes."""
    encode = functools.partial(
        _encode,
        seconds=seconds,
        width=width,
        height=height,
        fps=fps,
        audio=audio,
        codec=codec,
        volume=volume,
        hertz=hertz,
        first_colour=first_colour,
    )
    if CLIP_CACHE is None:
        return encode()
    import av

    # Named by everything that makes the file: the clip's parameters, this module's code and PyAV's (and FFmpeg's)
    # version, so a change to any of them encodes the clip again.
    made_by = f"{sorted(encode.keywords.items())}{Path(__file__).read_bytes()!r}{av.__version__}"
    kept = CLIP_CACHE / f"{hashlib.sha256(made_by.encode()).hexdigest()[:32]}.mp4"
    try:
        return kept.read_bytes()
    except FileNotFoundError:
        pass
    made = encode()
    # Written whole under another name, then renamed: a worker reading it meanwhile finds it absent, never half.
    partial = kept.with_name(f"{kept.name}.{os.getpid()}.partial")
    partial.write_bytes(made)
    os.replace(partial, kept)
    return made


def _encode(
    *,
    seconds: int,
    width: int,
    height: int,
    fps: int,
    audio: str | None,
    codec: str,
    volume: float,
    hertz: float,
    first_colour: int,
) -> bytes:
    """The server's own encoder (the sandbox's), with second N painted SECOND_COLOURS[first_colour + N]."""
    from happyhorse_mcp.sandbox.clips import encode_mp4

    def paint(second: int) -> Image.Image:
        return Image.new("RGB", (width, height), SECOND_COLOURS[(first_colour + second) % len(SECOND_COLOURS)])

    return encode_mp4(
        paint,
        seconds=seconds,
        width=width,
        height=height,
        fps=fps,
        audio=audio,
        codec=codec,
        hertz=hertz,
        volume=volume,
    )


def with_header_seconds(path: Path, seconds: float) -> Path:
    """Rewrite the container header's (mvhd) length of an MP4 to `seconds`, leaving its tracks as they are: a file
    whose header lies about how long it is."""
    data = bytearray(path.read_bytes())
    at = data.index(b"mvhd") + 4
    version = data[at]
    if version == 0:
        scale = struct.unpack_from(">I", data, at + 12)[0]
        struct.pack_into(">I", data, at + 16, int(seconds * scale))
    else:
        scale = struct.unpack_from(">I", data, at + 20)[0]
        struct.pack_into(">Q", data, at + 24, int(seconds * scale))
    path.write_bytes(bytes(data))
    return path
