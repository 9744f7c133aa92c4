"""review_video: the model looks at what it made (a contact sheet of frames, the sound's levels, the file's facts)
before anyone spends more; and the same contact sheet as a resource."""

import base64
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resources import ResourceTemplate
from mcp.types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import Field

from ...domain.uris import JOB_SHEET_TEMPLATE
from ...review.report import VideoReview, review_text
from ..boundary import resource_errors, tool_errors
from ..identity import caller
from ..shelf import Shelf
from ..state import app_state
from ._shared import JobId
from ._shelf import ToolShelf

MAX_FRAMES = 16
SHEETS_KEPT = 32
DEFAULT_FRAMES = 6
# Reads files and may fetch from fal's media host, but changes nothing and costs nothing.
READ_ONLY_REMOTE = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=True)


def register(shelf: ToolShelf) -> None:
    @shelf.tool(
        name="review_video",
        title="Look at a finished video",
        annotations=READ_ONLY_REMOTE,
        description="Look at a finished video (a film's joins too) before making more: its frames in one grid, "
        "timed, plus duration, size, fps, codec and sound levels, checked against what was asked. Free.",
    )
    @tool_errors
    async def review_video(
        job_id: JobId,
        ctx: Context[Any, Any],
        frames: Annotated[
            int, Field(ge=1, le=MAX_FRAMES, description="Evenly spaced frames to show.")
        ] = DEFAULT_FRAMES,
        at_seconds: Annotated[
            list[Annotated[float, Field(ge=0)]] | None,
            Field(max_length=MAX_FRAMES, description="Or the frames at these seconds."),
        ] = None,
    ) -> Annotated[CallToolResult, VideoReview]:
        from ...review.reviewing import review_job  # PyAV and Pillow load on the first review, not at start

        backend = await app_state(ctx).backend()
        job = await backend.runner.get(job_id.strip(), caller().user)
        count = len(at_seconds) if at_seconds else frames
        review, sheet = await review_job(job, backend.downloader, count=count, at_seconds=at_seconds or None)
        return CallToolResult(
            content=[
                TextContent(type="text", text=review_text(review)),
                ImageContent(type="image", data=base64.b64encode(sheet).decode(), mime_type="image/jpeg"),
            ],
            structured_content=review.model_dump(mode="json"),
        )


def define_sheet(shelf: Shelf[ResourceTemplate]) -> None:
    """The contact sheet as a resource, kept for the server's lifetime in its state (AppState.contact_sheets)."""

    # A finished job's video never changes, and the player asks for its contact sheet on every view: keep the last
    # few sheets (about 50 KB each) rather than fetch and decode the video again each time.
    @shelf.put(
        uri_template=JOB_SHEET_TEMPLATE,
        name="job-contact-sheet",
        title="HappyHorse job contact sheet",
        description=f"{DEFAULT_FRAMES} evenly spaced frames of a finished job's video in one JPEG, each labelled with "
        "its time.",
        mime_type="image/jpeg",
    )
    @resource_errors
    async def contact_sheet(job_id: str, ctx: Context[Any, Any]) -> bytes:
        from ...review.reviewing import review_job

        state = app_state(ctx)
        backend = await state.backend()
        job = await backend.runner.get(job_id, caller().user)  # first: the cache is the server's, not the user's
        sheets = state.contact_sheets
        if (kept := sheets.get(job_id)) is not None:
            sheets.move_to_end(job_id)
            return kept
        _, sheet = await review_job(job, backend.downloader, count=DEFAULT_FRAMES, at_seconds=None)
        sheets[job_id] = sheet
        if len(sheets) > SHEETS_KEPT:
            sheets.popitem(last=False)
        return sheet
