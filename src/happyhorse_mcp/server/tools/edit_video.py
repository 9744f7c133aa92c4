"""edit_video: replace or restyle a subject in an existing video, keeping the motion."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult
from pydantic import Field

from ...domain.arguments import MediaUrl, Text
from ...domain.catalog import (
    MAX_EDIT_OUTPUT_SECONDS,
    MAX_EDIT_REFERENCE_IMAGES,
    MAX_EDIT_SOURCE_SECONDS,
    MIN_EDIT_SOURCE_SECONDS,
    AudioSetting,
)
from ...domain.catalog import VIDEO_EDIT as SPEC
from ...domain.models import JobResult
from ...jobs.generation import Quote
from ..boundary import tool_errors
from ..player import PLAYER_META
from ._generation import Confirmation, consent_resolver, generate, quote_resolver
from ._shared import (
    DEFAULT_WAIT_SECONDS,
    GENERATION,
    IdempotencyKey,
    MaxCost,
    ResolutionArg,
    SafetyChecker,
    SaveTo,
    Seed,
    WaitSeconds,
    describe,
)
from ._shelf import ToolShelf


def register(shelf: ToolShelf) -> None:
    @shelf.tool(
        name=SPEC.tool,
        title="Swap a subject in a video",
        annotations=GENERATION,
        meta=PLAYER_META,
        description=describe(
            SPEC,
            "Replace or restyle a subject in a video, keeping the motion; the output keeps the source's aspect and "
            f"length (at most {MAX_EDIT_OUTPUT_SECONDS} s). Name reference images @Image1..@Image"
            f"{MAX_EDIT_REFERENCE_IMAGES} in the prompt, e.g. 'replace the man with @Image1'.",
        ),
    )
    @tool_errors
    async def edit_video(
        video_url: MediaUrl,
        prompt: Text,
        quote: Annotated[Quote, Resolve(quote_resolver(SPEC))],
        consent: Annotated[Confirmation, Resolve(consent_resolver(SPEC))],
        ctx: Context[Any, Any],
        reference_image_urls: Annotated[list[MediaUrl], Field(max_length=MAX_EDIT_REFERENCE_IMAGES)] = [],  # noqa: B006 - pydantic copies defaults
        resolution: ResolutionArg = "1080p",
        audio_setting: Annotated[AudioSetting, Field(description="origin keeps the source's audio.")] = "auto",
        seed: Seed = None,
        enable_safety_checker: SafetyChecker = True,
        wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
        idempotency_key: IdempotencyKey = None,
        max_cost_usd: MaxCost = None,
        source_duration: Annotated[
            float | None,
            Field(
                ge=MIN_EDIT_SOURCE_SECONDS,
                le=MAX_EDIT_SOURCE_SECONDS,
                description=f"A URL source's length in seconds, for the price (else {MAX_EDIT_SOURCE_SECONDS} s is "
                "assumed).",
            ),
        ] = None,
        save_to: SaveTo = None,
    ) -> Annotated[CallToolResult, JobResult]:
        return await generate(ctx, quote, consent)
