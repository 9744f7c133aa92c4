"""A job's saved copy, opened only while it is still the file the server wrote (see fal/download.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO


def open_saved_copy(path: Path, identity: tuple[int, int]) -> BinaryIO | None:
    """The saved copy, open for reading, if the file at `path` is still the one written for the job (same device and
    inode, reached without following a link); None when it was moved, replaced or swapped for a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    info = os.fstat(fd)
    if (info.st_dev, info.st_ino) != tuple(identity) or not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")
