"""What the tools share: argument types with their bounds, annotations, progress, and the result shape.

Argument checks that plain types cannot express run as argument validation, before any confirmation or submit, so
a refusal names the field, the limit and the value given, and nothing is sent. Guidance that several tools share
(prompting, local files, timing) is said once, in the server's instructions, not in every description.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from mcp.types import CallToolResult, ResourceLink, TextContent, ToolAnnotations
from pydantic import AfterValidator, Field

from ...domain.arguments import Text
from ...domain.catalog import (
    MAX_DURATION,
    MAX_SEED,
    MIN_DURATION,
    AspectRatio,
    OperationSpec,
    Resolution,
    Version,
    media_sentence,
)
from ...domain.errors import SUGGESTED_WAIT_SECONDS
from ...domain.film import FilmKind
from ...domain.models import Job, JobResult
from ...domain.pricing import BILLED_DIFFERENCE_SHOWN_USD
from ...domain.uris import video_uri
from ..identity import shows_server_paths

DEFAULT_WAIT_SECONDS = SUGGESTED_WAIT_SECONDS
MAX_WAIT_SECONDS = 600


def _within(low: int, high: int) -> Any:
    def check(value: int | None) -> int | None:
        if value is not None and value < low:
            raise ValueError(f"must be at least {low}")
        if value is not None and value > high:
            raise ValueError(f"must be at most {high}")
        return value

    return check


def _length_within(low: int, high: int) -> Any:
    def check(value: str | None) -> str | None:
        if value is not None and not low <= len(value) <= high:
            raise ValueError(f"must be {low} to {high} characters long")
        return value

    return check


MAX_KEY_CHARS = 200

Prompt = Annotated[Text, Field(description="What the video shows.")]
Duration = Annotated[int, Field(ge=MIN_DURATION, le=MAX_DURATION)]
ResolutionArg = Resolution
# The arguments every generation tool shares are explained once, in the server's instructions (instructions.py).
AspectRatioArg = AspectRatio
# Bounds checked here but left out of the schema: every generation tool has these, and the schema is read by the
# model in every conversation (a value out of bounds is refused naming the bound).
Seed = Annotated[int | None, AfterValidator(_within(0, MAX_SEED))]
VersionArg = Version
SafetyChecker = bool
WaitSeconds = Annotated[int, Field(ge=0, le=MAX_WAIT_SECONDS)]
IdempotencyKey = Annotated[str | None, AfterValidator(_length_within(1, MAX_KEY_CHARS))]
MaxCost = Annotated[float | None, Field(gt=0)]
SaveTo = str | None
JobId = Annotated[str, Field(min_length=1, max_length=64)]

GENERATION = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
READ_ONLY_LOCAL = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


def describe(spec: OperationSpec, text: str) -> str:
    """A generation tool's description: its own text, then fal's media limits, made from the spec (its price, and
    what every generation tool shares, are in the server's instructions)."""
    media = media_sentence(spec)
    return f"{text} {media}" if media else text


# A host that asked for no progress times the call out on its own clock (the TypeScript SDK's default is 60 s): it is
# never held longer than this. A host that asked for progress hears of the job every few seconds, which keeps one
# that resets its time-out on progress waiting as long as it was asked.
WAIT_WITHOUT_PROGRESS = SUGGESTED_WAIT_SECONDS


@dataclass(frozen=True)
class Wait:
    seconds: float
    note: str = ""  # said in the result when the wait was cut short


def bearable_wait(ctx: Context[Any, Any], asked: float) -> Wait:
    """How long this call may wait for its job: what was asked, unless the client asked for no progress and that
    is more than a host without progress bears."""
    if asked <= WAIT_WITHOUT_PROGRESS or progress_token_from_params(ctx.request_context.params) is not None:
        return Wait(asked)
    return Wait(
        WAIT_WITHOUT_PROGRESS,
        f"This call waited {WAIT_WITHOUT_PROGRESS:g} s of the {asked:g} asked: the client asked for no progress "
        "updates, and hosts without them give up on a call after about 60 s.",
    )


def progress_reporter(ctx: Context[Any, Any]) -> Any:
    async def report(job: Job, elapsed: float) -> None:
        await ctx.report_progress(round(elapsed, 1), None, f"{job.phase}; {elapsed:.0f} s elapsed (job {job.job_id})")

    return report


def job_result(job: Job, *, error_if_failed: bool = False, text: str | None = None, note: str = "") -> CallToolResult:
    """The job as a tool result: `text` (by default its summary), a link to the video as a resource this server
    serves (resources/read gives its bytes: the saved copy when there is one, else fal's), structured output. The
    fal URL and the saved file's path are in the text and the structured output."""
    result = job.result(server_paths=shows_server_paths())
    said = text or summary(result)
    if note and not job.finished:
        said = f"{said} {note}"
    content: list[Any] = [TextContent(type="text", text=said)]
    if result.video is not None:
        saved = result.local_file
        content.append(
            ResourceLink(
                type="resource_link",
                uri=video_uri(job.job_id),
                name=Path(saved.path).name if saved else result.video.file_name or f"{job.job_id}.mp4",
                title=f"HappyHorse video {job.job_id}",
                mime_type=result.video.content_type or "video/mp4",
                size=saved.size if saved else result.video.file_size,
            )
        )
    failed = result.status in ("failed", "unknown")
    return CallToolResult(
        content=content,
        structured_content=result.model_dump(mode="json"),
        is_error=error_if_failed and failed,
    )


SANDBOX_SAID = (
    "[Sandbox: made by the stand-in for fal built into this server, a test card, not HappyHorse; nothing was billed, "
    "and the price shown is what HappyHorse would charge.]"
)


def summary(result: JobResult) -> str:
    said = _summary(result)
    return f"{SANDBOX_SAID} {said}" if result.sandbox else said


def _summary(result: JobResult) -> str:
    cost = "" if result.cost_usd is None else f" (USD {result.cost_usd:.2f}{billed_words(result)})"
    if result.film is not None and result.status not in ("failed", "unknown"):
        return film_summary(result)
    match result.status:
        case "completed":
            assert result.video is not None
            dims = f"{result.video.width}x{result.video.height}, " if result.video.width else ""
            length = f"{result.video.duration:g} s, " if result.video.duration else ""
            saved = f" Saved to {result.local_file.path}." if result.local_file else ""
            if result.download_error:
                saved = f" {result.download_error}"
            return (
                f"Video ready{cost}: {result.video.url} ({dims}{length}seed {result.seed}). Job {result.job_id}.{saved}"
            )
        case "failed" | "unknown":
            assert result.error is not None
            billed = f" fal billed USD {result.billed_usd:.2f} for it." if result.billed_usd else ""
            return f"Job {result.job_id} {result.status}: {result.error.message}{billed}"
        case "cancelled":
            return f"Job {result.job_id} was cancelled; nothing was billed for it."
        case _:
            where = f" at position {result.queue_position}" if result.queue_position is not None else ""
            return f"Job {result.job_id} is {result.status}{where}{cost}. {result.next_step}"


def billed_words(result: JobResult) -> str:
    """fal's bill beside the estimate, once read: said plainly when they differ."""
    if result.billed_usd is None or result.cost_usd is None:
        return ""
    if abs(result.billed_usd - result.cost_usd) > BILLED_DIFFERENCE_SHOWN_USD:
        return f" estimated; fal billed USD {result.billed_usd:.2f}"
    return ", as fal billed"


def film_summary(result: JobResult) -> str:
    """A film (or a continued video) as its result says it: what was made, each shot's job and cost."""
    film = result.film
    assert film is not None
    shots = "; ".join(
        f"{i + 1}: {shot.job_id or 'not started'} {shot.status}"
        + (f" USD {shot.cost_usd:.2f}" if shot.cost_usd is not None else "")
        for i, shot in enumerate(film.shots)
    )
    if result.status == "cancelled":
        return (
            f"Film {result.job_id} was cancelled. Its shots that had finished stay billed: USD "
            f"{result.cost_usd or 0:.2f}. Shots: {shots}."
        )
    if result.status != "completed":
        price = f" (USD {result.cost_usd:.2f})" if result.cost_usd is not None else ""
        doing = "assembling its shots" if film.phase == "assembling" else "making its shots"
        return f"Film {result.job_id} is {doing}{price}. Shots: {shots}. {result.next_step}"
    assert result.video is not None
    where = f" Saved to {result.local_file.path}." if result.local_file else ""
    if result.video.url.startswith("http") and not result.sandbox:
        where += f" On fal's storage (a public URL, as fal's own videos are): {result.video.url}."
    seconds = result.video.duration or film.seconds
    billed = billed_words(result)
    if result.operation == FilmKind.EXTENSION:
        shot = film.shots[-1]
        return (
            f"Video continued (USD {result.cost_usd:.2f}{billed}): a new {shot.seconds} s shot made from its last "
            f"frame by image-to-video (fal has no native extend for HappyHorse), joined with a {film.transition}: "
            f"{seconds:g} s in all.{where} Job {result.job_id}; the new shot is job {shot.job_id}."
        )
    size = f"{result.video.width}x{result.video.height}, " if result.video.width else ""
    return (
        f"Film ready (USD {result.cost_usd:.2f}{billed} for {len(film.shots)} shots): {size}{seconds:g} s, joined with "
        f"{film.transition}.{where} Job {result.job_id}. Shots: {shots}."
    )
