"""The MCP surface: tools, resources and their descriptions. Thin: checks, then hands off to the job runner."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import (
    CallToolResult,
    Completion,
    CompletionArgument,
    EmptyResult,
    ResourceLink,
    ResourceTemplateReference,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from mcp.types import Resource as MCPResource
from pydantic import BaseModel, Field

from . import __version__
from .appstate import AppState, Backend
from .budget import BudgetExceededError, SpendReport, check_spend, left_today
from .catalog import (
    MAX_DURATION,
    MAX_EDIT_REFERENCE_IMAGES,
    MAX_EDIT_SOURCE_SECONDS,
    MAX_REFERENCE_IMAGES,
    MAX_SEED,
    MIN_DURATION,
    MIN_EDIT_SOURCE_SECONDS,
    AspectRatio,
    AudioSetting,
    Operation,
    Resolution,
    Version,
    parse_operation,
)
from .confirm import (
    Confirmation,
    confirm_edit,
    confirm_image,
    confirm_references,
    confirm_text,
    edit_cost,
    estimate_or_refuse,
    require_confirmed,
)
from .errors import HappyHorseError, MissingKeyError
from .inputs import MediaUrl, Text
from .localfiles import (
    MediaPlan,
    plan_for_edit,
    plan_for_image,
    plan_for_references,
    plan_for_text,
    upload_local_inputs,
)
from .models import Job, JobResult, JobStatus, job_uri
from .notify import ResourceNotifier
from .pricing import CostBreakdown, CostEstimate
from .prompts import register_prompts
from .schema import compact
from .settings import DOWNLOAD_TIMEOUT_SECONDS, Settings

if TYPE_CHECKING:
    import httpx

    from .fal import RetryPolicy
    from .jobs import JobRunner

logger = logging.getLogger(__name__)

DEFAULT_WAIT_SECONDS = 50
MAX_WAIT_SECONDS = 600
RECENT_JOBS_LISTED = 50

INSTRUCTIONS = """\
Makes videos with Alibaba's HappyHorse-1.0 on fal: text to video, image to video, reference images to video, and
subject swaps in an existing video. Every clip comes with generated audio. Jobs cost money (USD 0.14-0.28 per second
of video): call estimate_cost first when the user has not agreed to a price. Generation usually takes 1-3 minutes; a
tool returns status 'running' with a job_id when it takes longer than wait_seconds, and get_job(job_id) waits on."""

PROMPT_TIPS = (
    "Describe subject, action, setting, light and mood; ask for camera moves in words ('slow dolly-in', "
    "'static camera', 'aerial tracking shot'). Audio (dialogue, ambience, Foley) is always generated: describe the "
    "sounds and any spoken lines in the prompt."
)
LOCAL_FILES = (
    "Media: an https URL, a data: URI, or a local path inside an allowed folder; a local file is uploaded to fal "
    "storage and becomes a public URL."
)
TIMING = (
    "Jobs take 1-3 minutes: the call waits up to wait_seconds, then returns status 'running' and a job_id; call "
    "get_job(job_id, wait_seconds=50) to keep waiting. The job is never lost or resubmitted. save_to downloads "
    "the video to a local .mp4 path or folder."
)

Prompt = Annotated[Text, Field(description="What the video shows (1-2500 characters).")]
Duration = Annotated[
    int, Field(ge=MIN_DURATION, le=MAX_DURATION, description="Length of the video in whole seconds (3-15).")
]
ResolutionArg = Annotated[Resolution, Field(description="720p or 1080p.")]
AspectRatioArg = Annotated[
    AspectRatio, Field(description="16:9, 9:16, 1:1, 4:3 or 3:4; version 1.1 adds 21:9, 9:21, 5:4 and 4:5.")
]
Seed = Annotated[
    int | None, Field(ge=0, le=MAX_SEED, description="Fix it to reproduce a take; leave empty for a random one.")
]
VersionArg = Annotated[Version, Field(description="HappyHorse model version: 1.0 or 1.1 (cheaper 1080p).")]
SafetyChecker = Annotated[bool, Field(description="fal's content safety checker on the inputs and output.")]
WaitSeconds = Annotated[
    int,
    Field(ge=0, le=MAX_WAIT_SECONDS, description="How long to wait for the video before returning a job_id (0-600)."),
]
IdempotencyKey = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=200,
        description="Optional. A second call with the same key returns the first call's job instead of paying again.",
    ),
]
MaxCost = Annotated[
    float | None,
    Field(gt=0, description="Optional. Refuse the job if its estimated price in USD is above this."),
]
SaveTo = Annotated[
    str | None,
    Field(
        description="Optional: where to save the finished video, an .mp4 path or a folder inside an allowed folder "
        "(the client's roots or HAPPYHORSE_ALLOWED_DIRS).",
    ),
]
JobId = Annotated[str, Field(min_length=1, max_length=64, description="The job_id a generation tool returned.")]

GENERATION = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)


class BudgetCheck(BaseModel):
    allowed: bool = Field(description="Whether the limits in force let this job run now.")
    left_today_usd: float
    daily_budget_usd: float
    max_usd_per_job: float
    reason: str | None = Field(default=None, description="Why the job would be refused, when it would.")


class CostReport(BaseModel):
    usd: float = Field(description="Price in US dollars, exact to the cent.")
    breakdown: CostBreakdown
    budget: BudgetCheck
    summary: str


class JobList(BaseModel):
    jobs: list[JobResult]
    count: int


class HappyHorseServer(MCPServer[AppState]):
    """MCPServer whose resources/list also lists the jobs this server knows."""

    runner: JobRunner | None = None

    def serve_logging_level(self) -> None:
        """`logging/setLevel` (2025-11-25): the level applies to this server's stderr log; it sends no log
        notifications, since the protocol deprecates them and operators read stderr."""

        async def set_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
            logging.getLogger("happyhorse_mcp").setLevel(params.level.upper())
            return EmptyResult()

        self._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)

    def serve_resource_subscriptions(self, notifier: ResourceNotifier) -> None:
        """Serve the 2025-11-25 `resources/subscribe` pair, which MCPServer leaves unregistered."""
        lowlevel = self._lowlevel_server
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, notifier.subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, notifier.unsubscribe)

    async def list_resources(self) -> list[MCPResource]:
        listed = await super().list_resources()
        if self.runner is not None:
            for job in await self.runner.recent(RECENT_JOBS_LISTED):
                listed.append(
                    MCPResource(
                        uri=job_uri(job.job_id),
                        name=f"{job.job_id} ({job.operation}, {job.status})",
                        description=_prompt_excerpt(job),
                        mime_type="application/json",
                    )
                )
        return listed


def _prompt_excerpt(job: Job) -> str:
    prompt = str(job.arguments.get("prompt") or "")
    return prompt if len(prompt) <= 100 else prompt[:97] + "..."


def create_server(
    settings: Settings,
    *,
    http_client_factory: Callable[[], httpx.AsyncClient] | None = None,
    retry: RetryPolicy | None = None,
    poll_interval: float | None = None,
) -> HappyHorseServer:
    async def start_backend(state: AppState, tg: anyio.abc.TaskGroup, stack: AsyncExitStack) -> None:
        """Open the job store and the fal client, follow unfinished jobs again, then let the tools in."""
        try:
            # The HTTP stack imports in a worker thread while the event loop answers the client's first requests.
            backend_modules = await anyio.to_thread.run_sync(_import_backend)
            fal_mod, jobs_mod, storage_mod, store_mod = backend_modules
            store = await anyio.to_thread.run_sync(store_mod.JobStore, settings.data_dir / "jobs.sqlite3")
            stack.push_async_callback(anyio.to_thread.run_sync, store.close)
            http = await stack.enter_async_context((http_client_factory or fal_mod.default_http_client)())
            fal = fal_mod.FalQueue(http, queue_url=settings.queue_url, key=settings.fal_key, retry=retry)
            storage = storage_mod.FalStorage(
                http, rest_url=settings.rest_url, cdn_url=settings.cdn_url, key=settings.fal_key
            )
            downloader = storage_mod.VideoDownloader(
                http,
                extra_hosts=[settings.cdn_url, *settings.download_hosts],
                max_bytes=settings.max_download_bytes,
                timeout_seconds=DOWNLOAD_TIMEOUT_SECONDS,
            )
            runner = jobs_mod.JobRunner(
                fal,
                store,
                tg,
                limits=settings.limits,
                downloader=downloader,
                on_status_change=lambda job: notifier.updated(job_uri(job.job_id)),
            )
            if poll_interval is not None:
                runner.poll_interval = poll_interval
        except (OSError, RuntimeError) as exc:  # an unwritable data dir, a store from a newer version
            logger.error("cannot start the job machinery: %s", exc)
            state.failed(str(exc))
            return
        if resumed := await runner.resume():
            logger.info("following %d unfinished job(s) from a previous run", resumed)
        mcp.runner = runner
        state.started(Backend(runner=runner, storage=storage, downloader=downloader))

    @asynccontextmanager
    async def lifespan(server: MCPServer[AppState]) -> AsyncIterator[AppState]:
        state = AppState(settings=settings)
        async with AsyncExitStack() as stack, anyio.create_task_group() as tg:
            tg.start_soon(start_backend, state, tg, stack)
            try:
                yield state
            finally:
                mcp.runner = None
                tg.cancel_scope.cancel()

    notifier = ResourceNotifier()
    mcp = HappyHorseServer(
        "happyhorse-mcp",
        title="HappyHorse video",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        subscriptions=notifier.bus,
    )
    mcp.serve_resource_subscriptions(notifier)
    mcp.serve_logging_level()

    @mcp.completion()  # type: ignore[no-untyped-call, untyped-decorator]
    async def complete(ref: Any, argument: CompletionArgument, context: Any) -> Completion | None:
        """Offer the ids of recent jobs for `happyhorse://jobs/{job_id}`."""
        if isinstance(ref, ResourceTemplateReference) and argument.name == "job_id" and mcp.runner is not None:
            ids = [job.job_id for job in await mcp.runner.recent(RECENT_JOBS_LISTED)]
            matches = [job_id for job_id in ids if job_id.startswith(argument.value)]
            return Completion(values=matches[:100], total=len(matches), has_more=len(matches) > 100)
        return None

    _register_tools(mcp)
    _register_resources(mcp)
    register_prompts(mcp)  # type: ignore[arg-type]
    for tool in mcp._tool_manager.list_tools():
        tool.parameters = compact(tool.parameters)
        if tool.output_schema is not None:
            tool.output_schema = compact(tool.output_schema, keep_descriptions=False)
    return mcp


def select_tools(mcp: HappyHorseServer, *, read_only: bool = False, names: list[str] | None = None) -> list[str]:
    """Keep only the tools asked for: those annotated read-only, and/or those named. Returns what is offered."""
    tools = {tool.name: tool for tool in mcp._tool_manager.list_tools()}
    if names is not None:
        wanted = {name.strip() for name in names if name.strip()}
        if unknown := sorted(wanted - set(tools)):
            raise ValueError(f"unknown tool(s) in --tools: {', '.join(unknown)}; known: {', '.join(sorted(tools))}")
    else:
        wanted = set(tools)
    if read_only:
        wanted = {n for n in wanted if (hints := tools[n].annotations) is not None and hints.read_only_hint}
    for name in set(tools) - wanted:
        mcp.remove_tool(name)
    return sorted(wanted)


def _import_backend() -> tuple[Any, Any, Any, Any]:
    from . import fal, jobs, storage, store

    return fal, jobs, storage, store


def _state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


async def _backend(ctx: Context[AppState, Any]) -> Backend:
    return await _state(ctx).backend()


async def _submit_and_wait(
    ctx: Context[AppState, Any],
    *,
    operation: Operation,
    arguments: dict[str, Any],
    cost: CostEstimate,
    wait_seconds: int,
    idempotency_key: str | None,
    max_cost_usd: float | None,
    confirmation: Confirmation,
    plan: MediaPlan,
) -> CallToolResult:
    require_confirmed(confirmation)
    state = _state(ctx)
    if state.settings.fal_key is None:
        raise ToolError(MissingKeyError().message)
    backend = await state.backend()
    fal_arguments = {k: v for k, v in arguments.items() if v is not None}
    try:
        if idempotency_key is None or not await backend.runner.has_idempotency_key(idempotency_key):
            fal_arguments = await upload_local_inputs(backend.storage, plan, fal_arguments)
        job = await backend.runner.submit(
            operation,
            cost.endpoint,
            fal_arguments,
            cost.usd,
            idempotency_key=idempotency_key,
            max_cost_usd=max_cost_usd,
            save_to=plan.save_to or state.settings.output_dir,
        )
    except HappyHorseError as exc:
        raise ToolError(exc.message) from exc
    job = await backend.runner.wait(job.job_id, wait_seconds, _progress_reporter(ctx))
    return job_result(job, error_if_failed=True)


def _progress_reporter(ctx: Context[AppState, Any]) -> Callable[[Job, float], Any]:
    async def report(job: Job, elapsed: float) -> None:
        if job.status == "queued" and job.queue_position is not None:
            phase = f"queued, position {job.queue_position}"
        else:
            phase = {"submitting": "submitting", "queued": "queued"}.get(job.status, "generating")
        await ctx.report_progress(round(elapsed, 1), None, f"{phase}; {elapsed:.0f} s elapsed (job {job.job_id})")

    return report


def job_result(job: Job, *, error_if_failed: bool = False) -> CallToolResult:
    result = job.result()
    content: list[Any] = [TextContent(type="text", text=_summary(result))]
    if result.video is not None:
        content.append(
            ResourceLink(
                type="resource_link",
                uri=result.video.url,
                name=result.video.file_name or f"{job.job_id}.mp4",
                title=f"HappyHorse video {job.job_id}",
                mime_type=result.video.content_type or "video/mp4",
                size=result.video.file_size,
            )
        )
    if result.local_file is not None:
        content.append(
            ResourceLink(
                type="resource_link",
                uri=Path(result.local_file.path).as_uri(),
                name=Path(result.local_file.path).name,
                title=f"HappyHorse video {job.job_id} (saved copy)",
                mime_type="video/mp4",
                size=result.local_file.size,
            )
        )
    failed = result.status in ("failed", "unknown")
    return CallToolResult(
        content=content,
        structured_content=result.model_dump(mode="json"),
        is_error=error_if_failed and failed,
    )


def _summary(result: JobResult) -> str:
    cost = "" if result.cost_usd is None else f" (USD {result.cost_usd:.2f})"
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
            return f"Job {result.job_id} {result.status}: {result.error.message}"
        case "cancelled":
            return f"Job {result.job_id} was cancelled; nothing was billed for it."
        case _:
            where = f" at position {result.queue_position}" if result.queue_position is not None else ""
            return f"Job {result.job_id} is {result.status}{where}{cost}. {result.next_step}"


def _register_tools(mcp: HappyHorseServer) -> None:
    @mcp.tool(
        name="generate_video",
        title="Generate a video from text",
        annotations=GENERATION,
        description=(
            "Make a video with sound from a text prompt (HappyHorse text-to-video on fal). "
            f"{PROMPT_TIPS} Price: USD 0.14/s at 720p; 1080p USD 0.28/s on version 1.0, USD 0.18/s on 1.1 "
            f"(5 s at 1080p on 1.0 = USD 1.40). {TIMING}"
        ),
    )
    async def generate_video(
        prompt: Prompt,
        plan: Annotated[MediaPlan, Resolve(plan_for_text)],
        confirmation: Annotated[Confirmation, Resolve(confirm_text)],
        ctx: Context[AppState, Any],
        duration: Duration = 5,
        resolution: ResolutionArg = "1080p",
        aspect_ratio: AspectRatioArg = "16:9",
        seed: Seed = None,
        version: VersionArg = "1.0",
        enable_safety_checker: SafetyChecker = True,
        wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
        idempotency_key: IdempotencyKey = None,
        max_cost_usd: MaxCost = None,
        save_to: SaveTo = None,
    ) -> Annotated[CallToolResult, JobResult]:
        cost = estimate_or_refuse(Operation.TEXT_TO_VIDEO, duration=duration, resolution=resolution, version=version)
        return await _submit_and_wait(
            ctx,
            operation=Operation.TEXT_TO_VIDEO,
            arguments={
                "prompt": prompt,
                "duration": duration,
                "resolution": resolution,
                "aspect_ratio": aspect_ratio,
                "seed": seed,
                "enable_safety_checker": enable_safety_checker,
            },
            cost=cost,
            wait_seconds=wait_seconds,
            idempotency_key=idempotency_key,
            max_cost_usd=max_cost_usd,
            confirmation=confirmation,
            plan=plan,
        )

    @mcp.tool(
        name="image_to_video",
        title="Animate an image into a video",
        annotations=GENERATION,
        description=(
            "Animate a still image into a video with sound; the image is the first frame and sets the aspect ratio "
            "(HappyHorse image-to-video on fal). image_url: a JPG, PNG, BMP or WebP, each side at least 300 px, "
            "aspect between 1:2.5 and 2.5:1, at most 10 MB (20 MB on version 1.1). "
            f"{LOCAL_FILES} "
            f"The prompt is optional: say what moves and how. {PROMPT_TIPS} Price as generate_video: USD 0.14/s at "
            f"720p, 1080p USD 0.28/s (1.0) or USD 0.18/s (1.1). {TIMING}"
        ),
    )
    async def image_to_video(
        image_url: Annotated[MediaUrl, Field(description="First frame: https URL, data: URI or local path.")],
        plan: Annotated[MediaPlan, Resolve(plan_for_image)],
        confirmation: Annotated[Confirmation, Resolve(confirm_image)],
        ctx: Context[AppState, Any],
        prompt: Annotated[
            Text | None, Field(description="Optional: the motion and sound wanted (up to 2500 characters).")
        ] = None,
        duration: Duration = 5,
        resolution: ResolutionArg = "1080p",
        seed: Seed = None,
        version: VersionArg = "1.0",
        enable_safety_checker: SafetyChecker = True,
        wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
        idempotency_key: IdempotencyKey = None,
        max_cost_usd: MaxCost = None,
        save_to: SaveTo = None,
    ) -> Annotated[CallToolResult, JobResult]:
        cost = estimate_or_refuse(Operation.IMAGE_TO_VIDEO, duration=duration, resolution=resolution, version=version)
        return await _submit_and_wait(
            ctx,
            operation=Operation.IMAGE_TO_VIDEO,
            arguments={
                "image_url": image_url,
                "prompt": prompt,
                "duration": duration,
                "resolution": resolution,
                "seed": seed,
                "enable_safety_checker": enable_safety_checker,
            },
            cost=cost,
            wait_seconds=wait_seconds,
            idempotency_key=idempotency_key,
            max_cost_usd=max_cost_usd,
            confirmation=confirmation,
            plan=plan,
        )

    @mcp.tool(
        name="reference_to_video",
        title="Make a video of subjects from reference images",
        annotations=GENERATION,
        description=(
            "Make a video with sound featuring the subjects of 1 to 9 reference images (people, products, "
            "characters), kept consistent (HappyHorse reference-to-video on fal). In the prompt, call the subjects "
            "character1, character2, ... in the order of image_urls, e.g. 'character1 hands character2 a cup'. "
            "Images: JPG/PNG/WebP, shortest side at least 400 px, at most 10 MB each. "
            f"{LOCAL_FILES} "
            f"{PROMPT_TIPS} Price as generate_video: USD 0.14/s at 720p, 1080p USD 0.28/s (1.0) or USD 0.18/s (1.1). "
            f"{TIMING}"
        ),
    )
    async def reference_to_video(
        prompt: Annotated[
            Text,
            Field(
                description="What happens, naming subjects character1..character9 in image_urls order.",
            ),
        ],
        image_urls: Annotated[
            list[MediaUrl],
            Field(
                min_length=1, max_length=MAX_REFERENCE_IMAGES, description="1-9 reference images (URL, data: or path)."
            ),
        ],
        plan: Annotated[MediaPlan, Resolve(plan_for_references)],
        confirmation: Annotated[Confirmation, Resolve(confirm_references)],
        ctx: Context[AppState, Any],
        duration: Duration = 5,
        resolution: ResolutionArg = "1080p",
        aspect_ratio: AspectRatioArg = "16:9",
        seed: Seed = None,
        version: VersionArg = "1.0",
        enable_safety_checker: SafetyChecker = True,
        wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
        idempotency_key: IdempotencyKey = None,
        max_cost_usd: MaxCost = None,
        save_to: SaveTo = None,
    ) -> Annotated[CallToolResult, JobResult]:
        cost = estimate_or_refuse(
            Operation.REFERENCE_TO_VIDEO, duration=duration, resolution=resolution, version=version
        )
        return await _submit_and_wait(
            ctx,
            operation=Operation.REFERENCE_TO_VIDEO,
            arguments={
                "prompt": prompt,
                "image_urls": image_urls,
                "duration": duration,
                "resolution": resolution,
                "aspect_ratio": aspect_ratio,
                "seed": seed,
                "enable_safety_checker": enable_safety_checker,
            },
            cost=cost,
            wait_seconds=wait_seconds,
            idempotency_key=idempotency_key,
            max_cost_usd=max_cost_usd,
            confirmation=confirmation,
            plan=plan,
        )

    @mcp.tool(
        name="edit_video",
        title="Swap a subject in a video",
        annotations=GENERATION,
        description=(
            "Edit an existing video: replace or restyle a subject, keeping the motion (HappyHorse video-edit on fal, "
            "version 1.0). video_url: an MP4 or MOV (H.264 best), 3-60 s, at most 100 MB, longer side at most 2160 px. "
            "The output keeps the source's aspect ratio and length, capped at 15 s. "
            f"{LOCAL_FILES} "
            "Refer to reference images in the prompt as @Image1..@Image5 in reference_image_urls order, e.g. "
            "'replace the man with @Image1'. audio_setting 'origin' keeps the source audio, 'auto' generates new. "
            "Price: source seconds plus output seconds, each USD 0.14 (720p) or USD 0.28 (1080p): a 10 s source at "
            "1080p costs USD 5.60. A local source's length is read from the file; for a URL pass source_duration. "
            f"{TIMING}"
        ),
    )
    async def edit_video(
        video_url: Annotated[MediaUrl, Field(description="Source video (MP4/MOV, 3-60 s): URL, data: or local path.")],
        prompt: Annotated[
            Text,
            Field(
                description="The edit, naming reference images @Image1..@Image5.",
            ),
        ],
        plan: Annotated[MediaPlan, Resolve(plan_for_edit)],
        confirmation: Annotated[Confirmation, Resolve(confirm_edit)],
        ctx: Context[AppState, Any],
        reference_image_urls: Annotated[
            list[MediaUrl],
            Field(max_length=MAX_EDIT_REFERENCE_IMAGES, description="0-5 reference images (URL, data: or path)."),
        ] = [],  # noqa: B006 - pydantic copies defaults; the schema shows []
        resolution: ResolutionArg = "1080p",
        audio_setting: Annotated[
            AudioSetting, Field(description="'auto' generates audio; 'origin' keeps the source's.")
        ] = "auto",
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
                description="Optional: the source video's length in seconds, for the price and budget check. "
                "Without it the longest source (60 s) is assumed.",
            ),
        ] = None,
        save_to: SaveTo = None,
    ) -> Annotated[CallToolResult, JobResult]:
        return await _submit_and_wait(
            ctx,
            operation=Operation.VIDEO_EDIT,
            arguments={
                "video_url": video_url,
                "prompt": prompt,
                "reference_image_urls": reference_image_urls,
                "resolution": resolution,
                "audio_setting": audio_setting,
                "seed": seed,
                "enable_safety_checker": enable_safety_checker,
            },
            cost=edit_cost(resolution, source_duration, plan),
            wait_seconds=wait_seconds,
            idempotency_key=idempotency_key,
            max_cost_usd=max_cost_usd,
            confirmation=confirmation,
            plan=plan,
        )

    @mcp.tool(
        name="estimate_cost",
        title="Estimate the cost of a video",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
        description=(
            "Price a HappyHorse job before making it, from the price table (no key, no network, no charge). "
            "operation: text-to-video, image-to-video, reference-to-video or video-edit (tool names such as "
            "generate_video work too). Video edit bills the source's seconds plus the output's, so it needs "
            "source_duration. Returns usd and a breakdown (endpoint, rate per second, seconds billed)."
        ),
    )
    async def estimate_cost(
        ctx: Context[AppState, Any],
        operation: Annotated[
            str, Field(description="text-to-video | image-to-video | reference-to-video | video-edit")
        ],
        duration: Duration = 5,
        resolution: ResolutionArg = "1080p",
        version: VersionArg = "1.0",
        source_duration: Annotated[
            float | None,
            Field(gt=0, le=3600, description="video-edit only: the source video's length in seconds."),
        ] = None,
    ) -> CostReport:
        try:
            op = parse_operation(operation)
        except ValueError as exc:
            raise ToolError(f"Invalid argument operation: {exc}.") from exc
        cost = estimate_or_refuse(
            op, duration=duration, resolution=resolution, version=version, source_duration=source_duration
        )
        breakdown = CostBreakdown(**cost.model_dump(exclude={"usd"}))
        if op is Operation.VIDEO_EDIT:
            how = f"{cost.input_seconds} s source + {cost.output_seconds} s output"
        else:
            how = f"{cost.output_seconds} s"
        state = _state(ctx)
        limits = state.settings.limits
        spent_today = await (await state.backend()).runner.spent_today()
        left = left_today(limits, spent_today)
        reason = None
        try:
            check_spend(cost.usd, limits=limits, spent_today=spent_today, max_cost_usd=None)
        except BudgetExceededError as exc:
            reason = exc.message.replace(" Nothing was submitted.", "")
        budget = BudgetCheck(
            allowed=reason is None,
            left_today_usd=left,
            daily_budget_usd=limits.daily_budget_usd,
            max_usd_per_job=limits.max_usd_per_job,
            reason=reason,
        )
        summary = (
            f"USD {cost.usd:.2f} for {op} at {resolution} on version {version}: "
            f"{how} x USD {cost.rate_usd_per_second:.2f}/s (prices as of {cost.prices_as_of}). "
            f"USD {left:.2f} of today's budget is left."
        )
        return CostReport(usd=cost.usd, breakdown=breakdown, budget=budget, summary=summary)

    @mcp.tool(
        name="list_jobs",
        title="List video jobs",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
        description=(
            "List the jobs this server has recorded, newest first, with their status, video URL and cost. "
            "Use it to find a job_id again, or to see what is still running."
        ),
    )
    async def list_jobs(
        ctx: Context[AppState, Any],
        status: Annotated[JobStatus | None, Field(description="Only jobs with this status.")] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="How many jobs at most (1-200).")] = 20,
    ) -> JobList:
        jobs = [job.result() for job in await (await _backend(ctx)).runner.recent(limit, status)]
        return JobList(jobs=jobs, count=len(jobs))

    @mcp.tool(
        name="get_job",
        title="Get a video job",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=True),
        description=(
            "Report a job a generation tool started: its status, and the video when it is done. With wait_seconds "
            "above 0 it waits that long for the job to finish (with progress), so call it with wait_seconds=50 "
            "while a job is 'queued' or 'running'. Results are kept by this server, so a job can be read any time."
        ),
    )
    async def get_job(
        job_id: JobId, ctx: Context[AppState, Any], wait_seconds: WaitSeconds = 0
    ) -> Annotated[CallToolResult, JobResult]:
        runner = (await _backend(ctx)).runner
        try:
            job = await runner.wait(job_id.strip(), wait_seconds, _progress_reporter(ctx))
        except HappyHorseError as exc:
            raise ToolError(exc.message) from exc
        return job_result(job)

    @mcp.tool(
        name="cancel_job",
        title="Cancel a video job",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
        ),
        description=(
            "Ask fal to cancel a job that has not finished. A job still in the queue is dropped and not billed; one "
            "already generating may still finish (and be billed). Returns the job; call get_job to see how it ends."
        ),
    )
    async def cancel_job(job_id: JobId, ctx: Context[AppState, Any]) -> Annotated[CallToolResult, JobResult]:
        runner = (await _backend(ctx)).runner
        try:
            job = await runner.cancel(job_id.strip())
        except HappyHorseError as exc:
            raise ToolError(exc.message) from exc
        return job_result(job)


def _register_resources(mcp: HappyHorseServer) -> None:
    @mcp.resource(
        "happyhorse://jobs/{job_id}/video",
        name="job-video",
        title="HappyHorse job video",
        description="A finished job's MP4 as a blob: from the saved copy when there is one, else from fal. "
        "Refused above HAPPYHORSE_MAX_DOWNLOAD_MB.",
        mime_type="video/mp4",
    )
    async def job_video(job_id: str, ctx: Context[AppState, Any]) -> bytes:
        state = _state(ctx)
        backend = await state.backend()
        try:
            job = await backend.runner.get(job_id)
        except HappyHorseError as exc:
            raise ResourceNotFoundError(exc.message) from exc
        video = job.video
        if video is None:
            raise ResourceNotFoundError(f"Job {job_id} has no video yet (status {job.status}).")
        limit = state.settings.max_download_bytes
        try:
            if job.local_file is not None and await anyio.Path(job.local_file.path).is_file():
                path = anyio.Path(job.local_file.path)
                size = (await path.stat()).st_size
                if size > limit:
                    raise ResourceError(
                        f"The video is {size} bytes, above the {limit}-byte cap for a resource "
                        f"(HAPPYHORSE_MAX_DOWNLOAD_MB); open {path.as_uri()} instead."
                    )
                return await path.read_bytes()
            return await backend.downloader.read(video.url)
        except HappyHorseError as exc:
            raise ResourceError(exc.message + f" The video is at {video.url}.") from exc

    @mcp.resource(
        "happyhorse://spend",
        name="spend",
        title="HappyHorse spend",
        description="Spend today (UTC), this month and in total, and the limits in force, as JSON.",
        mime_type="application/json",
    )
    async def spend_resource() -> str:
        if mcp.runner is None:
            raise ResourceNotFoundError("the server is not running")
        report: SpendReport = await mcp.runner.spend()
        return report.model_dump_json(indent=2)

    @mcp.resource(
        "happyhorse://jobs/{job_id}",
        name="job",
        title="HappyHorse job",
        description="A video job as JSON: status, video URL when done, cost, error.",
        mime_type="application/json",
    )
    async def job_resource(job_id: str, ctx: Context[AppState, Any]) -> str:
        try:
            job = await (await _backend(ctx)).runner.get(job_id)
        except HappyHorseError as exc:
            raise ResourceNotFoundError(exc.message) from exc
        return job.result().model_dump_json(indent=2)
