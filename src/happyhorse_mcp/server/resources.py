"""Resources: a job as JSON, a finished job's video as a blob (templates, built once per process: app.py), and the
spend report."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resources import ResourceTemplate

from ..domain.catalog import MB
from ..domain.errors import DownloadError, HappyHorseError, NoVideoYetError, ServerNotReadyError
from ..domain.models import Job, excerpt
from ..domain.uris import JOB_TEMPLATE, JOB_VIDEO_TEMPLATE, SPEND_URI
from ..files.saved_copy import open_saved_copy
from .boundary import resource_errors
from .identity import caller, shows_server_paths
from .shelf import Shelf
from .state import AppState, app_state

RECENT_JOBS_LISTED = 50


# A blob resource travels base64-encoded in one JSON-RPC message, and the SDK holds several copies of it while it
# does: a read costs a few times the file. Videos above this are pointed to (their URL, their saved file) instead.
MAX_RESOURCE_VIDEO_BYTES = 32 * MB


def too_big_for_a_resource(size: int, limit: int, *, elsewhere: str) -> DownloadError:
    def amount(n: int) -> str:
        return f"{n / MB:.1f} MB" if n >= MB else f"{n} bytes"

    return DownloadError(
        f"The video is {amount(size)}, above the {amount(limit)} a resource read carries here (it travels "
        f"base64-encoded in one message). Open {elsewhere} instead."
    )


def read_saved_copy(path: Path, identity: tuple[int, int], limit: int) -> bytes | None:
    """The saved copy's bytes if the file at `path` is still the one written for the job (same device and inode,
    reached without following a link); None when it was moved, replaced or swapped for a link (then fal's URL
    serves). Refused above `limit`."""
    file = open_saved_copy(path, identity)
    if file is None:
        return None
    with file:
        info = os.fstat(file.fileno())
        if info.st_size > limit:
            raise too_big_for_a_resource(info.st_size, limit, elsewhere=path.as_uri())
        return file.read()


def prompt_excerpt(job: Job) -> str:
    return excerpt(job.arguments.get("prompt"), 100) or ""


def register_spend(mcp: MCPServer[Any], current_state: Callable[[], AppState | None]) -> None:
    @mcp.resource(
        SPEND_URI,
        name="spend",
        title="HappyHorse spend",
        description="Your spend today (UTC), this month and in total, and the limits in force, as JSON.",
        mime_type="application/json",
    )
    @resource_errors
    async def spend_resource() -> str:  # a static resource gets no Context: the state comes from the server
        state = current_state()
        if state is None:
            raise ServerNotReadyError("The server is not running.")
        report = await (await state.backend()).guard.report(caller().user)
        return report.model_dump_json(indent=2)


def define_job_templates(shelf: Shelf[ResourceTemplate]) -> None:
    @shelf.put(
        uri_template=JOB_VIDEO_TEMPLATE,
        name="job-video",
        title="HappyHorse job video",
        description="A finished job's MP4 as a blob: from the saved copy when there is one, else from fal. "
        f"Videos above {MAX_RESOURCE_VIDEO_BYTES // MB} MB are refused with their URL.",
        mime_type="video/mp4",
    )
    @resource_errors
    async def job_video(job_id: str, ctx: Context[Any, Any]) -> bytes:
        state = app_state(ctx)
        backend = await state.backend()
        job = await backend.runner.get(job_id, caller().user)
        video = job.video
        if video is None:
            raise NoVideoYetError(job.job_id, job.status)
        limit = min(state.settings.max_download_bytes, MAX_RESOURCE_VIDEO_BYTES)
        if job.local_file is not None and job.saved_identity is not None:
            saved = await anyio.to_thread.run_sync(
                read_saved_copy, Path(job.local_file.path), job.saved_identity, limit
            )
            if saved is not None:
                return saved
        if video.file_size is not None and video.file_size > limit:
            raise too_big_for_a_resource(video.file_size, limit, elsewhere=video.url)
        try:
            return await backend.downloader.read(video.url, limit)
        except HappyHorseError as exc:
            raise DownloadError(exc.message + f" The video is at {video.url}.") from exc

    @shelf.put(
        uri_template=JOB_TEMPLATE,
        name="job",
        title="HappyHorse job",
        description="A video job as JSON: status, video URL when done, cost, error.",
        mime_type="application/json",
    )
    @resource_errors
    async def job_resource(job_id: str, ctx: Context[Any, Any]) -> str:
        job = await (await app_state(ctx).backend()).runner.get(job_id, caller().user)
        return job.result(server_paths=shows_server_paths()).model_dump_json(indent=2)
