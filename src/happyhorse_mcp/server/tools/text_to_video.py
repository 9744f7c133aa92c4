"""generate_video: text to video."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult

from ...domain.catalog import DEFAULT_VERSION
from ...domain.catalog import TEXT_TO_VIDEO as SPEC
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
    Prompt,
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
        title="Generate a video from text",
        annotations=GENERATION,
        meta=PLAYER_META,
        description=describe(SPEC, "Make a video with sound from a text prompt."),
    )
    @tool_errors
    async def generate_video(
        prompt: Prompt,
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
