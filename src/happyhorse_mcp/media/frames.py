"""A clip's last frame as a PNG: what a shot that continues it starts from (image-to-video takes a first frame)."""

from __future__ import annotations

import io
from pathlib import Path

import av


def last_frame_png(path: Path) -> bytes:
    """Decodes to the end (clips are 3-15 s) and keeps the last picture; raises ValueError for a file without one."""
    last = None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0) if container.streams.video else ():
            last = frame
    if last is None:
        raise ValueError(f"{path.name} has no picture to continue from")
    out = io.BytesIO()
    last.to_image().save(out, format="PNG")  # type: ignore[no-untyped-call]
    return out.getvalue()
