"""Local paths in tool arguments: the checks before any money or upload, and the uploads after.

The allowed folders are the client's roots plus HAPPYHORSE_ALLOWED_DIRS. `plan_media` checks every local file a
call names (against the allowed folders and fal's limits for that argument) and its `save_to` destination; the
tool uploads the files only once the price is confirmed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..domain.catalog import OperationSpec
from ..domain.errors import InvalidMediaError
from .media import NO_ROOTS, LocalFile, check_local, is_local

if TYPE_CHECKING:
    from ..fal.storage import FalStorage


@dataclass
class MediaPlan:
    """The checked local inputs of one call (by argument path, e.g. `image_urls.1`) and where to save the video."""

    local: dict[str, LocalFile] = field(default_factory=dict)
    save_to: Path | None = None

    @property
    def source_seconds(self) -> float | None:
        video = self.local.get("video_url")
        return video.duration if video is not None else None


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
    save_to = arguments.get("save_to")
    return any(is_local(value) for _, value, _ in media_values(spec, arguments)) or (
        isinstance(save_to, str) and is_local(save_to)
    )


def plan_media(spec: OperationSpec, arguments: Mapping[str, Any], roots: list[Path]) -> MediaPlan:
    """Check the call's local files and `save_to` (blocking: run it in a worker thread)."""
    version = arguments.get("version") or spec.default_version
    plan = MediaPlan()
    try:
        for path, value, media in media_values(spec, arguments):
            if is_local(value):
                plan.local[path] = check_local(path, value, roots, media.rule(version))
        if (save_to := arguments.get("save_to")) is not None:
            plan.save_to = check_destination(save_to, roots)
    except InvalidMediaError as exc:
        raise InvalidMediaError(exc.message + " Nothing was uploaded or submitted.") from exc
    return plan


def check_destination(save_to: str, roots: list[Path]) -> Path:
    """`save_to` names a folder (the video gets the job's id as its name) or an .mp4 file, inside an allowed folder."""
    if not roots:
        raise InvalidMediaError("save_to: " + NO_ROOTS.format(sep=os.pathsep))
    target = Path(save_to.removeprefix("file://")).expanduser()
    if not target.is_absolute():
        raise InvalidMediaError(f"save_to: {save_to!r} must be an absolute path.")
    is_folder = target.is_dir()
    if not is_folder and target.suffix.lower() != ".mp4":
        raise InvalidMediaError(f"save_to: {save_to!r} must be an existing folder or a file name ending in .mp4.")
    folder = target if is_folder else target.parent
    try:
        real_folder = folder.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidMediaError(f"save_to: the folder {str(folder)!r} does not exist.") from None
    if not any(real_folder.is_relative_to(root.resolve()) for root in roots):
        raise InvalidMediaError(f"save_to: {save_to!r} is outside every allowed folder ({', '.join(map(str, roots))}).")
    destination = real_folder if is_folder else real_folder / target.name
    if not is_folder and destination.is_symlink():
        raise InvalidMediaError(f"save_to: {save_to!r} is a symbolic link; name a new file.")
    return destination


async def upload_local_inputs(storage: FalStorage, plan: MediaPlan, arguments: dict[str, Any]) -> dict[str, Any]:
    """Replace each checked local path in the fal arguments with the URL fal storage gives it."""
    updated = {k: list(v) if isinstance(v, list) else v for k, v in arguments.items()}
    for name, local in plan.local.items():
        url = await storage.upload(local)
        key, _, index = name.partition(".")
        if index:
            updated[key][int(index)] = url
        else:
            updated[key] = url
    return updated
