"""Local paths in tool arguments: which folders are allowed, the checks before any money or upload, and the uploads.

The allowed folders are the client's roots (asked with `roots/list` only when a call names a local path, through
the SDK's `ListRoots` resolver so it works on both protocol eras) plus HAPPYHORSE_ALLOWED_DIRS. Each generation tool
has a resolver that checks every local file and the `save_to` destination before the price is confirmed; the tool
body uploads the files only after that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import Context, ListRoots, Resolve
from mcp.server.mcpserver.exceptions import ToolError

from .media import (
    NO_ROOTS,
    VIDEO_RULE,
    LocalFile,
    MediaError,
    MediaRule,
    check_local,
    image_rule,
    is_local,
    roots_from_uris,
)

if TYPE_CHECKING:
    from .storage import FalStorage


@dataclass
class MediaPlan:
    """The checked local inputs of one call (by argument path, e.g. `image_urls.1`) and where to save the video."""

    local: dict[str, LocalFile] = field(default_factory=dict)
    save_to: Path | None = None

    @property
    def source_seconds(self) -> float | None:
        video = self.local.get("video_url")
        return video.duration if video is not None else None


def _any_local(*values: str | list[str] | None) -> bool:
    for value in values:
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and is_local(v) for v in items):
            return True
    return False


def _ask_roots(ctx: Context[Any, Any], *values: str | list[str] | None) -> Any:
    capabilities = ctx.client_capabilities
    if _any_local(*values) and capabilities is not None and capabilities.roots is not None:
        return ListRoots()
    return None


async def roots_for_text(ctx: Context[Any, Any], save_to: str | None) -> Any:
    return _ask_roots(ctx, save_to)


async def roots_for_image(ctx: Context[Any, Any], image_url: str, save_to: str | None) -> Any:
    return _ask_roots(ctx, image_url, save_to)


async def roots_for_references(ctx: Context[Any, Any], image_urls: list[str], save_to: str | None) -> Any:
    return _ask_roots(ctx, image_urls, save_to)


async def roots_for_edit(
    ctx: Context[Any, Any], video_url: str, reference_image_urls: list[str], save_to: str | None
) -> Any:
    return _ask_roots(ctx, video_url, reference_image_urls, save_to)


def _allowed(ctx: Context[Any, Any], listed: Any) -> list[Path]:
    roots = list(ctx.request_context.lifespan_context.settings.allowed_dirs)
    if listed is not None:
        roots += roots_from_uris(str(root.uri) for root in getattr(listed, "roots", []))
    return roots


async def _plan(
    ctx: Context[Any, Any], listed: Any, inputs: list[tuple[str, str, MediaRule]], save_to: str | None
) -> MediaPlan:
    roots = _allowed(ctx, listed)
    plan = MediaPlan()
    try:
        for name, value, rule in inputs:
            if is_local(value):
                plan.local[name] = await anyio.to_thread.run_sync(check_local, name, value, roots, rule)
        if save_to is not None:
            plan.save_to = await anyio.to_thread.run_sync(check_destination, save_to, roots)
    except MediaError as exc:
        raise ToolError(exc.message + " Nothing was uploaded or submitted.") from exc
    return plan


async def plan_for_text(
    ctx: Context[Any, Any], save_to: str | None, listed: Annotated[Any, Resolve(roots_for_text)]
) -> MediaPlan:
    return await _plan(ctx, listed, [], save_to)


async def plan_for_image(
    ctx: Context[Any, Any],
    image_url: str,
    version: str,
    save_to: str | None,
    listed: Annotated[Any, Resolve(roots_for_image)],
) -> MediaPlan:
    return await _plan(ctx, listed, [("image_url", image_url, image_rule(version))], save_to)


async def plan_for_references(
    ctx: Context[Any, Any],
    image_urls: list[str],
    version: str,
    save_to: str | None,
    listed: Annotated[Any, Resolve(roots_for_references)],
) -> MediaPlan:
    rule = image_rule(version, reference=True)
    return await _plan(ctx, listed, [(f"image_urls.{i}", url, rule) for i, url in enumerate(image_urls)], save_to)


async def plan_for_edit(
    ctx: Context[Any, Any],
    video_url: str,
    reference_image_urls: list[str],
    save_to: str | None,
    listed: Annotated[Any, Resolve(roots_for_edit)],
) -> MediaPlan:
    rule = image_rule("1.0")
    inputs = [("video_url", video_url, VIDEO_RULE)]
    inputs += [(f"reference_image_urls.{i}", url, rule) for i, url in enumerate(reference_image_urls)]
    return await _plan(ctx, listed, inputs, save_to)


def check_destination(save_to: str, roots: list[Path]) -> Path:
    """`save_to` names a folder (the video gets the job's id as its name) or an .mp4 file, inside an allowed folder."""
    if not roots:
        raise MediaError("save_to: " + NO_ROOTS.format(sep=os.pathsep))
    target = Path(save_to.removeprefix("file://")).expanduser()
    if not target.is_absolute():
        raise MediaError(f"save_to: {save_to!r} must be an absolute path.")
    is_folder = target.is_dir()
    if not is_folder and target.suffix.lower() != ".mp4":
        raise MediaError(f"save_to: {save_to!r} must be an existing folder or a file name ending in .mp4.")
    folder = target if is_folder else target.parent
    try:
        real_folder = folder.resolve(strict=True)
    except (OSError, RuntimeError):
        raise MediaError(f"save_to: the folder {str(folder)!r} does not exist.") from None
    if not any(real_folder.is_relative_to(root.resolve()) for root in roots):
        raise MediaError(f"save_to: {save_to!r} is outside every allowed folder ({', '.join(map(str, roots))}).")
    destination = real_folder if is_folder else real_folder / target.name
    if not is_folder and destination.is_symlink():
        raise MediaError(f"save_to: {save_to!r} is a symbolic link; name a new file.")
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
