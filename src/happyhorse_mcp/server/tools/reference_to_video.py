"""reference_to_video: a video of the subjects of 1-9 reference images, kept consistent."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult
from pydantic import Field

from ...domain.arguments import MediaUrl, Text
from ...domain.catalog import DEFAULT_VERSION, MAX_REFERENCE_IMAGES
from ...domain.catalog import REFERENCE_TO_VIDEO as SPEC
from ...domain.models import JobResult
from ...jobs.generation import Quote
from ..boundary import tool_errors
from ..player import PLAYER_META
from ._generation import Confirmation, consent_resolver, generate, quote_resolver
from ._shared import (
    DEFAULT_WAIT_SECONDS,
    GENERATION,
    AspectRatioArg,
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
        title="Make a video of subjects from reference images",
        annotations=GENERATION,
        meta=PLAYER_META,
        description=describe(
            SPEC,
            "Make a video with sound featuring the subjects (people, products, characters) of reference images. "
            "In the prompt call them character1, character2, ... in image_urls order.",
        ),
    )
    @tool_errors
    async def reference_to_video(
        prompt: Text,
        image_urls: Annotated[list[MediaUrl], Field(min_length=1, max_length=MAX_REFERENCE_IMAGES)],
        quote: Annotated[Quote, Resolve(quote_resolver(SPEC))],
        consent: Annotated[Confirmation, Resolve(consent_resolver(SPEC))],
        ctx: Context[Any, Any],
        duration: Duration = 5,
        resolution: ResolutionArg = "1080p",
        aspect_ratio: AspectRatioArg = "16:9",
        seed: Seed = None,
        version: VersionArg = DEFAULT_VERSION,
        enable_safety_checker: SafetyChecker = True,
        wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
        idempotency_key: IdempotencyKey = None,
        max_cost_usd: MaxCost = None,
        save_to: SaveTo = None,
    ) -> Annotated[CallToolResult, JobResult]:
        return await generate(ctx, quote, consent)
