"""Local paths in tool arguments: the checks before any money or upload, and the uploads after.

The allowed folders are HAPPYHORSE_ALLOWED_DIRS, plus the client's roots when the client runs on this machine (stdio):
over HTTP the client is elsewhere and its roots describe its own disk, so they never open this one. On a server
people sign in to, each person has a folder of their own inside each allowed folder (`user_folder`), and never
reads or writes anyone else's. `plan_media`
checks every local file a call names (against the allowed folders and fal's limits for that argument) and its
`save_to` destination; the files are uploaded (jobs/generation.py) only once the price is confirmed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..domain.catalog import MB, OperationSpec
from ..domain.errors import InvalidMediaError
from .media import LocalFile, check_local, is_local

NO_SAVE_FOLDER = (
    "No folder is allowed to save into. Add one with HAPPYHORSE_ALLOWED_DIRS (folders separated by '{sep}') or "
    "HAPPYHORSE_OUTPUT_DIR in the server's environment, or use a client that shares its roots; or leave save_to out: "
    "the video's URL comes back in the result."
)

# Names a person may give a video or picture file that is not an MP4: refused, rather than made into a folder.
OTHER_MEDIA_SUFFIXES = frozenset(
    {".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".wmv", ".gif", ".png", ".jpg", ".jpeg", ".webp"}
)
NAME_MAX_BYTES = 255  # the longest file name ext4, APFS, NTFS and most others take

REMOTE_NO_FOLDERS = (
    "This server is reached over HTTP, so a local path names a file on the server's machine, and only the "
    "operator's HAPPYHORSE_ALLOWED_DIRS may be read or written there (a client's roots describe its own disk and "
    "do not count); none is set. Pass an https URL or a data: URI instead; the finished video's URL comes back in "
    "the result."
)


@dataclass
class MediaPlan:
    """The checked local inputs of one call (by argument path, e.g. `image_urls.1`) and where to save the video: its
    `save_to`, else HAPPYHORSE_OUTPUT_DIR, else nowhere."""

    local: dict[str, LocalFile] = field(default_factory=dict)
    save_to: Path | None = None

    @property
    def source_seconds(self) -> float | None:
        video = self.local.get("video_url")
        return video.duration if video is not None else None


def user_folder(base: Path, user: str) -> Path:
    """A signed-in user's own folder inside an allowed folder (or HAPPYHORSE_OUTPUT_DIR): `<base>/users/<name>`, the
    name made safe for a path and, when it had to be changed, told apart by a digest of the user."""
    safe = re.sub(r"[^A-Za-z0-9._@-]", "_", user).strip(".")[:64]
    if safe != user:
        safe = f"{safe}-{hashlib.sha256(user.encode()).hexdigest()[:12]}"
    return base / "users" / safe


def media_values(spec: OperationSpec, arguments: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """Every media value of a call as (argument path, value, media argument), lists expanded by index."""
    values = []
    for media in spec.media:
        value = arguments.get(media.name)
        if media.many:
            values += [(f"{media.name}.{i}", item, media) for i, item in enumerate(value or [])]
        elif value is not None:
            values.append((media.name, value, media))
    return values


def names_local_path(spec: OperationSpec, arguments: Mapping[str, Any]) -> bool:
    """Whether the call names a file on this machine (then the client's roots are asked for)."""
    return arguments.get("save_to") is not None or any(is_local(value) for _, value, _ in media_values(spec, arguments))


def plan_media(
    spec: OperationSpec,
    arguments: Mapping[str, Any],
    roots: list[Path],
    base: Path | None = None,
    *,
    remote: bool = False,
    output_dir: Path | None = None,
) -> MediaPlan:
    """Check the call's local files and where its video will be saved (blocking: run it in a worker thread). `base`
    is where a relative `save_to` starts: the client's first root. `remote`: the client is on another machine
    (HTTP). `output_dir`: where a video without `save_to` is saved."""
    version = arguments.get("version") or spec.default_version
    plan = MediaPlan()
    try:
        if remote and not roots and names_local_path(spec, arguments):
            named = next((path for path, value, _ in media_values(spec, arguments) if is_local(value)), "save_to")
            raise InvalidMediaError(f"{named}: {REMOTE_NO_FOLDERS}")
        for path, value, media in media_values(spec, arguments):
            if is_local(value):
                plan.local[path] = check_local(path, value, roots, media.rule(version))
        if (save_to := arguments.get("save_to")) is not None:
            plan.save_to = check_destination(save_to, roots, base)
        elif output_dir is not None:
            if (problem := cannot_write(output_dir)) is not None:
                raise InvalidMediaError(
                    f"HAPPYHORSE_OUTPUT_DIR: {problem}, so the video could not be saved there. Fix the setting (or "
                    "the folder) and restart the server."
                )
            plan.save_to = output_dir
    except InvalidMediaError as exc:
        raise InvalidMediaError(exc.message + " Nothing was uploaded or submitted.") from exc
    return plan


# Below this much free space a video (tens of MB for 15 s of 1080p) may not fit: said before anything is paid for.
MIN_FREE_BYTES = 100 * MB


def cannot_write(folder: Path) -> str | None:
    """Why this server could not save a video into `folder` (made at download time when missing), or None. Checked
    before anything is paid for: a video that is billed and then cannot be saved is the worst way to learn it."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder, so {folder} cannot be made"
    if not os.access(existing, os.W_OK | os.X_OK):
        made = "" if existing == folder else f" (to make {folder})"
        read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
        return (
            f"this server may not write in {existing}{made}: {'a read-only disk' if read_only else 'permission denied'}"
        )
    if shutil.disk_usage(existing).free < MIN_FREE_BYTES:
        return f"the disk holding {existing} is full (less than {MIN_FREE_BYTES // MB} MB free)"
    return None


def check_destination(save_to: str, roots: list[Path], base: Path | None = None) -> Path:
    """Where `save_to` saves the video: an .mp4 file (new) or a folder (the video gets the job's id as its name),
    inside an allowed folder. A relative path is taken from `base` (the client's first root); folders that do not
    exist yet are made at download time, inside the allowed folder. Blocking: run it in a worker thread."""
    if not roots:
        raise InvalidMediaError("save_to: " + NO_SAVE_FOLDER.format(sep=os.pathsep))
    if "\x00" in save_to:
        raise InvalidMediaError("save_to: the path holds a NUL character, which no file name can; name the file again.")
    try:
        target = Path(save_to.removeprefix("file://")).expanduser()
    except RuntimeError:  # ~name of a user this machine does not have
        user = save_to.removeprefix("file://").split("/", 1)[0]
        raise InvalidMediaError(
            f"save_to: {save_to!r} starts with {user}, but there is no user {user[1:]!r} on this machine; give an "
            "absolute path inside an allowed folder."
        ) from None
    too_long = next((part for part in target.parts if len(part.encode()) > NAME_MAX_BYTES), None)
    if too_long is not None:
        raise InvalidMediaError(
            f"save_to: the name {too_long[:40]!r}... is {len(too_long.encode())} bytes, too long for a file name "
            f"(at most {NAME_MAX_BYTES}); choose a shorter one."
        )
    if not target.is_absolute():
        if base is None:
            raise InvalidMediaError(
                f"save_to: {save_to!r} is relative, and this client shares no root to start from; give an absolute "
                "path inside an allowed folder."
            )
        target = base / target
    if ".." in target.parts:
        raise InvalidMediaError(f"save_to: {save_to!r} may not contain '..'; name the folder directly.")
    is_file = target.suffix.lower() == ".mp4"
    if target.suffix.lower() in OTHER_MEDIA_SUFFIXES:
        raise InvalidMediaError(
            f"save_to: {save_to!r} names a {target.suffix} file, but the video is an MP4: end the name in .mp4, or "
            "name a folder (the video is then named after its job)."
        )
    if not is_file and target.exists() and not target.is_dir():
        raise InvalidMediaError(f"save_to: {save_to!r} must be a folder or a file name ending in .mp4.")
    folder = target.parent if is_file else target
    existing, missing = folder, list[str]()
    while not existing.exists():  # the folders still to make, made at download time
        missing.insert(0, existing.name)
        existing = existing.parent
    try:
        real_folder = existing.resolve(strict=True).joinpath(*missing)
    except (OSError, RuntimeError):
        raise InvalidMediaError(f"save_to: the folder {str(existing)!r} cannot be read.") from None
    allowed = [root.resolve() for root in roots]
    if not any(real_folder.is_relative_to(root) for root in allowed):
        raise InvalidMediaError(
            f"save_to: {save_to!r} is outside every allowed folder ({', '.join(map(str, allowed))})."
        )
    if (problem := cannot_write(real_folder)) is not None:
        raise InvalidMediaError(f"save_to: {problem}. Name a folder this server can write to.")
    if not is_file:
        return real_folder
    destination = real_folder / target.name
    if destination.is_symlink():
        raise InvalidMediaError(f"save_to: {save_to!r} is a symbolic link; name a new file.")
    if destination.exists():
        raise InvalidMediaError(
            f"save_to: {save_to!r} already exists, and a saved video never replaces a file. Name a new file, or a "
            "folder (the video is then named after its job)."
        )
    return destination
