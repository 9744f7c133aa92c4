"""image_to_video: a still image, as the first frame, into a video."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult
from pydantic import Field

from ...domain.arguments import MediaUrl, Text
from ...domain.catalog import DEFAULT_VERSION
from ...domain.catalog import IMAGE_TO_VIDEO as SPEC
from ...domain.models import JobResult
from ...jobs.generation import Quote
from ..boundary import tool_errors
from ..player import PLAYER_META
from ._generation import Confirmation, consent_resolver, generate, quote_resolver
from ._shared import (
    DEFAULT_WAIT_SECONDS,
    GENERATION,
    Duration,
    IdempotencyKey,
    MaxCost,
    ResolutionArg,
    SafetyChecker,
    SaveTo,
    Seed,
    VersionArg,
    WaitSeconds,
    describe,
)
from ._shelf import ToolShelf


def register(shelf: ToolShelf) -> None:
    @shelf.tool(
        name=SPEC.tool,
        title="Animate an image into a video",
        annotations=GENERATION,
        meta=PLAYER_META,
        description=describe(
            SPEC, "Animate a still image into a video with sound; the image is the first frame and sets the aspect."
        ),
    )
    @tool_errors
    async def image_to_video(
        image_url: MediaUrl,
        quote: Annotated[Quote, Resolve(quote_resolver(SPEC))],
        consent: Annotated[Confirmation, Resolve(consent_resolver(SPEC))],
        ctx: Context[Any, Any],
        prompt: Annotated[Text | None, Field(description="What moves, and the sound.")] = None,
        duration: Duration = 5,
        resolution: ResolutionArg = "1080p",
        seed: Seed = None,
        version: VersionArg = DEFAULT_VERSION,
        enable_safety_checker: SafetyChecker = True,
        wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
        idempotency_key: IdempotencyKey = None,
        max_cost_usd: MaxCost = None,
        save_to: SaveTo = None,
    ) -> Annotated[CallToolResult, JobResult]:
        return await generate(ctx, quote, consent)
