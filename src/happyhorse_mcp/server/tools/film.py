"""make_film and extend_video: many shots priced whole, made, and assembled into one video (jobs/films.py decides;
this is the MCP side: binding arguments, asking the user, rendering)."""

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, ListRoots, Resolve
from mcp.types import CallToolResult
from pydantic import Field
from pydantic_core import to_jsonable_python

from ...domain.arguments import Text
from ...domain.catalog import DEFAULT_VERSION, VIDEO_RULE
from ...domain.film import (
    FILM_TOOLS,
    MAX_SHOTS,
    MAX_TRANSITION_SECONDS,
    MIN_SHOTS,
    MIN_TRANSITION_SECONDS,
    FilmKind,
    Shot,
)
from ...domain.models import JobResult
from ...files.media import is_local
from ...jobs.films import FILM_SETTINGS, FilmQuote, FilmRequest
from ...jobs.generation import CONTROL_ARGUMENTS
from ..boundary import tool_errors
from ..identity import caller
from ..player import PLAYER_META
from ..state import app_state
from ._generation import Confirmation, client_shares_disk, consent_resolver_of, places, signed, start_and_wait
from ._shared import (
    DEFAULT_WAIT_SECONDS,
    GENERATION,
    AspectRatioArg,
    Duration,
    IdempotencyKey,
    MaxCost,
    ResolutionArg,
    SaveTo,
    Seed,
    VersionArg,
    WaitSeconds,
)
from ._shelf import ToolShelf

ARGUMENTS: dict[FilmKind, tuple[str, ...]] = {
    FilmKind.FILM: ("shots", *FILM_SETTINGS, *CONTROL_ARGUMENTS),
    FilmKind.EXTENSION: (
        "job_id",
        "video_url",
        "seconds",
        "prompt",
        "transition",
        "transition_seconds",
        "version",
        "resolution",
        "seed",
        *CONTROL_ARGUMENTS,
    ),
}
Transition = Literal["cut", "crossfade"]
TransitionSeconds = Annotated[float, Field(ge=MIN_TRANSITION_SECONDS, le=MAX_TRANSITION_SECONDS)]


def _names_local_path(arguments: dict[str, Any]) -> bool:
    shots = to_jsonable_python(arguments.get("shots") or [])
    images = [url for shot in shots for url in (shot.get("reference_image_urls") or [])]
    return arguments.get("save_to") is not None or any(
        is_local(value) for value in (*images, arguments.get("video_url") or "")
    )


def _quote_resolver(kind: FilmKind) -> Any:
    context = Context[Any, Any]

    async def roots(ctx: Context[Any, Any], **arguments: Any) -> ListRoots | None:
        capabilities = ctx.client_capabilities
        asks = _names_local_path(arguments) and client_shares_disk(ctx)
        return ListRoots() if asks and capabilities is not None and capabilities.roots is not None else None

    async def quoted(ctx: Context[Any, Any], listed: Any, **arguments: Any) -> FilmQuote:
        request = FilmRequest.of(kind, arguments, caller())
        films = (await app_state(ctx).backend()).films
        return await films.quote(request, places(ctx, listed))

    local_names = ("shots", "save_to") if kind == FilmKind.FILM else ("video_url", "save_to")
    roots_fn = signed(tool_errors(roots), {"ctx": context, **dict.fromkeys(local_names, Any)}, ListRoots | None)
    listed = Annotated[Any, Resolve(roots_fn)]
    named = dict.fromkeys(ARGUMENTS[kind], Any)
    return signed(tool_errors(quoted), {"ctx": context, "listed": listed, **named}, FilmQuote)


QUOTE = {kind: _quote_resolver(kind) for kind in FilmKind}
CONSENT = {kind: consent_resolver_of(QUOTE[kind], FilmQuote) for kind in FilmKind}


async def make(ctx: Context[Any, Any], quote: FilmQuote, consent: Confirmation) -> CallToolResult:
    """A film tool's body: start the quoted film once the user consented, wait for it, render it."""
    return await start_and_wait(
        ctx, consent, lambda backend, task: backend.films.start(quote, task=task), quote.request.wait_seconds
    )


def register(shelf: ToolShelf) -> None:
    @shelf.tool(
        name=FILM_TOOLS[FilmKind.FILM],
        title="Make a film from a storyboard",
        annotations=GENERATION,
        meta=PLAYER_META,
        description=f"A film of {MIN_SHOTS}-{MAX_SHOTS} shots in one call, priced whole before anything is spent, "
        "made and joined into one video with even sound (see Films in the instructions).",
    )
    @tool_errors
    async def make_film(
        shots: Annotated[list[Shot], Field(min_length=MIN_SHOTS, max_length=MAX_SHOTS)],
        quote: Annotated[FilmQuote, Resolve(QUOTE[FilmKind.FILM])],
        consent: Annotated[Confirmation, Resolve(CONSENT[FilmKind.FILM])],
        ctx: Context[Any, Any],
        style: Annotated[str | None, Field(max_length=1000, description="Subject, look, light.")] = None,
        transition: Transition = "crossfade",
        transition_seconds: TransitionSeconds = 0.5,
        version: VersionArg = DEFAULT_VERSION,
        resolution: ResolutionArg = "1080p",
        aspect_ratio: AspectRatioArg = "16:9",
        seed: Seed = None,
        wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
        idempotency_key: IdempotencyKey = None,
        max_cost_usd: MaxCost = None,
        save_to: SaveTo = None,
    ) -> Annotated[CallToolResult, JobResult]:
        return await make(ctx, quote, consent)

    @shelf.tool(
        name=FILM_TOOLS[FilmKind.EXTENSION],
        title="Continue a video",
        annotations=GENERATION,
        meta=PLAYER_META,
        description="Continue a finished video (job_id, or video_url: a local path or fal URL, "
        f"{VIDEO_RULE.min_seconds:g}-{VIDEO_RULE.max_seconds:g} s) by `seconds`: a new shot from its last frame, "
        "joined to it. Priced as that shot.",
    )
    @tool_errors
    async def extend_video(
        prompt: Text,
        quote: Annotated[FilmQuote, Resolve(QUOTE[FilmKind.EXTENSION])],
        consent: Annotated[Confirmation, Resolve(CONSENT[FilmKind.EXTENSION])],
        ctx: Context[Any, Any],
        job_id: Annotated[str | None, Field(max_length=64)] = None,
        video_url: str | None = None,
        seconds: Duration = 5,
        transition: Transition = "crossfade",
        transition_seconds: TransitionSeconds = 0.5,
        version: VersionArg = DEFAULT_VERSION,
        resolution: ResolutionArg = "1080p",
        seed: Seed = None,
        wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
        idempotency_key: IdempotencyKey = None,
        max_cost_usd: MaxCost = None,
        save_to: SaveTo = None,
    ) -> Annotated[CallToolResult, JobResult]:
        return await make(ctx, quote, consent)
