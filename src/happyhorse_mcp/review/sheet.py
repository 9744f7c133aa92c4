"""A contact sheet: frames in a grid, each labelled with its moment, as one JPEG sized for a model to look at."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

LONG_SIDE = 1024
# Sheets near 4:3 read best at LONG_SIDE; a wide frame goes in fewer columns, a tall one in more.
SHEET_ASPECT = 4 / 3
JPEG_QUALITY = 80
GAP = 4


def columns(frame_width: int, frame_height: int, count: int) -> int:
    aspect = frame_width / frame_height

    def misfit(cols: int) -> float:
        rows = math.ceil(count / cols)
        return abs(math.log((cols * aspect) / rows / SHEET_ASPECT))

    return min(range(1, count + 1), key=misfit)


def cell_size(frame_width: int, frame_height: int, count: int) -> tuple[int, int]:
    """Each frame's size on the sheet (even numbers, as FFmpeg's scaler likes): the sheet's long side is LONG_SIDE."""
    cols = columns(frame_width, frame_height, count)
    rows = math.ceil(count / cols)
    aspect = frame_width / frame_height
    width = (LONG_SIDE - GAP * (cols - 1)) / cols
    if (width / aspect) * rows > LONG_SIDE:  # a tall sheet: its height is the long side
        width = (LONG_SIDE - GAP * (rows - 1)) / rows * aspect
    width = max(2, int(width) // 2 * 2)
    return width, max(2, int(width / aspect) // 2 * 2)


def timestamp(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def contact_sheet(frames: list[tuple[float, Image]]) -> bytes:
    """The frames (already scaled to one size) in a grid, each with its moment in the corner, as JPEG."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = frames[0][1].size
    cols = columns(width, height, len(frames))
    rows = math.ceil(len(frames) / cols)
    sheet = Image.new("RGB", (cols * width + GAP * (cols - 1), rows * height + GAP * (rows - 1)), (16, 16, 16))
    font = ImageFont.load_default(size=max(12, height // 10))
    draw = ImageDraw.Draw(sheet)
    for index, (moment, picture) in enumerate(frames):
        x, y = (index % cols) * (width + GAP), (index // cols) * (height + GAP)
        sheet.paste(picture, (x, y))
        label = timestamp(moment)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        pad = max(2, (bottom - top) // 4)
        box = (x, y + height - (bottom - top) - 2 * pad, x + (right - left) + 2 * pad, y + height)
        draw.rectangle(box, fill=(0, 0, 0))
        draw.text((box[0] + pad - left, box[1] + pad - top), label, font=font, fill=(255, 255, 255))
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
