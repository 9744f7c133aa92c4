"""Local files as inputs: allowed only inside allowed folders, and checked against fal's limits from their headers.

Every path is resolved (`..`, `~`, symlinks) before it is compared with the allowed folders, must be a regular file,
and is re-checked by inode when it is opened for upload, so a swap after the check is caught. Images are read with
Pillow (header only), videos with hachoir (container metadata only); neither decodes the media.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..domain.arguments import is_local as is_local
from ..domain.catalog import MAX_IMAGE_ASPECT, MB, MediaRule
from ..domain.errors import InvalidMediaError

logger = logging.getLogger(__name__)

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "BMP": "image/bmp", "WEBP": "image/webp"}
VIDEO_TYPES = {"video/mp4": "video/mp4", "video/quicktime": "video/quicktime"}


@dataclass(frozen=True)
class LocalFile:
    field: str
    path: Path
    size: int
    content_type: str
    width: int
    height: int
    duration: float | None
    device: int
    inode: int

    def open(self) -> int:
        """The file opened again for reading, refused if it was swapped since the check (blocking)."""
        return open_verified(self)


def local_path(value: str) -> Path:
    """The path a local value names: a path (`~` expanded) or a file:// URL of this machine."""
    if value.startswith("file://"):
        parts = urlsplit(value)
        if parts.netloc not in ("", "localhost"):
            raise InvalidMediaError(f"{value!r} names a file on another host; only local files can be uploaded.")
        return Path(unquote(parts.path))
    return Path(value).expanduser()


def roots_from_uris(uris: Iterable[str]) -> list[Path]:
    return [local_path(uri) for uri in uris if uri.startswith("file://")]


NO_ROOTS = (
    "Local files are refused: no folder is allowed. Add one with HAPPYHORSE_ALLOWED_DIRS (folders separated by "
    "'{sep}') in the server's environment, or use a client that shares its roots; or pass an https URL instead."
)


def check_local(field: str, value: str, roots: Sequence[Path], rule: MediaRule) -> LocalFile:
    """Resolve `value`, check it lies in an allowed folder and is a regular file, then read its headers."""
    if not roots:
        raise InvalidMediaError(f"{field}: " + NO_ROOTS.format(sep=os.pathsep))
    try:
        real = local_path(value).resolve(strict=True)
    except FileNotFoundError:
        raise InvalidMediaError(f"{field}: no file at {value!r}.") from None
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, ~ of no user, a NUL, a name too long
        raise InvalidMediaError(f"{field}: cannot resolve {value!r} ({exc}).") from None
    allowed = [root.resolve() for root in roots]
    if not any(real.is_relative_to(root) for root in allowed):
        missing = [str(root) for root in allowed if not root.is_dir()]
        note = (
            f" ({', '.join(missing)} does not exist on this machine: fix HAPPYHORSE_ALLOWED_DIRS.)" if missing else ""
        )
        raise InvalidMediaError(
            f"{field}: {value!r} resolves to {str(real)!r}, outside every allowed folder "
            f"({', '.join(map(str, allowed))}). Move the file into one, or allow its folder with "
            f"HAPPYHORSE_ALLOWED_DIRS.{note}"
        )
    info = os.stat(real)
    if not stat.S_ISREG(info.st_mode):
        raise InvalidMediaError(f"{field}: {value!r} is not a regular file (a folder, FIFO, socket or device).")
    if info.st_size > rule.max_bytes:
        raise InvalidMediaError(
            f"{field}: {value!r} is {info.st_size / MB:.1f} MB; fal accepts at most {rule.max_bytes // MB} MB here."
        )
    if rule.kind == "image":
        return _probe_image(field, value, real, info, rule)
    return _probe_video(field, value, real, info, rule)


def _probe_image(field: str, value: str, real: Path, info: os.stat_result, rule: MediaRule) -> LocalFile:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(real) as image:
            kind, (width, height) = image.format or "", image.size
    except (UnidentifiedImageError, OSError, ValueError):
        kind, width, height = "", 0, 0
    if kind not in rule.formats:
        wanted = ", ".join(sorted(rule.formats))
        raise InvalidMediaError(f"{field}: {value!r} is not a {wanted} image (whatever its name says).")
    _check_sides(field, value, width, height, rule)
    if max(width, height) / min(width, height) > MAX_IMAGE_ASPECT:
        raise InvalidMediaError(
            f"{field}: {value!r} is {width}x{height}; fal needs an aspect ratio between 1:2.5 and 2.5:1. Crop it."
        )
    return LocalFile(field, real, info.st_size, IMAGE_TYPES[kind], width, height, None, info.st_dev, info.st_ino)


def _probe_video(field: str, value: str, real: Path, info: os.stat_result, rule: MediaRule) -> LocalFile:
    from hachoir.core import config as hachoir_config
    from hachoir.metadata import extractMetadata
    from hachoir.parser import createParser

    hachoir_config.quiet = True  # hachoir prints warnings otherwise
    mime, width, height, seconds = "", 0, 0, 0.0
    try:
        parser = createParser(str(real))
        if parser is not None:
            with parser:
                mime = str(parser.mime_type or "")
                metadata = extractMetadata(parser)
                if metadata is not None:
                    width = int(metadata.get("width", 0) or 0)
                    height = int(metadata.get("height", 0) or 0)
                    duration = metadata.get("duration", None)
                    seconds = duration.total_seconds() if duration is not None else 0.0
    except Exception as exc:  # noqa: BLE001 - hachoir raises many kinds on damaged input: all mean "unreadable"
        logger.debug("hachoir could not read %s: %r", real, exc)
    if mime not in VIDEO_TYPES:
        raise InvalidMediaError(f"{field}: {value!r} is not an MP4 or MOV video (whatever its name says).")
    # A container header can say less than its tracks hold, and the length prices an edit: the longest counts.
    seconds = max(seconds, _longest_track_seconds(real))
    if not width or not height or not seconds:
        raise InvalidMediaError(
            f"{field}: {value!r} has no readable video track (size and duration); re-encode it as H.264."
        )
    if not rule.min_seconds <= seconds <= rule.max_seconds:
        raise InvalidMediaError(
            f"{field}: {value!r} lasts {seconds:.1f} s; fal needs {rule.min_seconds:g} to {rule.max_seconds:g} s."
        )
    _check_sides(field, value, width, height, rule)
    return LocalFile(field, real, info.st_size, VIDEO_TYPES[mime], width, height, seconds, info.st_dev, info.st_ino)


def _longest_track_seconds(real: Path) -> float:
    """The longest length the file's own tables give (container, each stream's duration, its frame count over its
    frame rate), read by FFmpeg's demuxer without decoding; 0 when FFmpeg cannot read the file."""
    import av

    try:
        with av.open(str(real)) as container:
            lengths = [container.duration / av.time_base if container.duration else 0.0]
            for stream in container.streams:
                if stream.duration and stream.time_base:
                    lengths.append(float(stream.duration * stream.time_base))
                rate = getattr(stream, "average_rate", None)
                if stream.frames and rate:
                    lengths.append(stream.frames / float(rate))
    except (av.FFmpegError, OSError, ValueError) as exc:
        logger.debug("FFmpeg could not read %s: %r", real, exc)
        return 0.0
    return max(lengths)


def _check_sides(field: str, value: str, width: int, height: int, rule: MediaRule) -> None:
    short, long = sorted((width, height))
    if short < max(rule.min_side, rule.min_short_side):
        limit = max(rule.min_side, rule.min_short_side)
        raise InvalidMediaError(f"{field}: {value!r} is {width}x{height}; fal needs each side at least {limit} px.")
    if rule.max_long_side and long > rule.max_long_side:
        raise InvalidMediaError(
            f"{field}: {value!r} is {width}x{height}; fal needs the longer side at most {rule.max_long_side} px."
        )


def open_verified(local: LocalFile) -> int:
    """Open the checked file again, refusing it if it was swapped (another inode, a symlink) since the check."""
    try:
        fd = os.open(local.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:  # gone, or now a symlink (ELOOP under O_NOFOLLOW)
        raise InvalidMediaError(
            f"{local.field}: {str(local.path)!r} changed after it was checked ({exc.strerror})."
        ) from exc
    info = os.fstat(fd)
    if (info.st_dev, info.st_ino) != (local.device, local.inode) or not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise InvalidMediaError(
            f"{local.field}: {str(local.path)!r} changed after it was checked; nothing was uploaded."
        )
    return fd
