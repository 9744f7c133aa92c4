"""Small real media files for tests: PNG/JPEG images from Pillow, and MP4/MOV containers built box by box."""

from __future__ import annotations

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
