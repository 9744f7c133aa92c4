"""get_job, cancel_job and list_jobs: reading and steering jobs already started."""

from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from ...domain.models import Job, JobResult, JobStatus
from ..boundary import tool_errors
from ..player import PLAYER_META
from ..state import app_state

if TYPE_CHECKING:
    from ...jobs.runner import CancelReport  # the runner pulls in the HTTP stack: imported off the event loop
from ..identity import caller, shows_server_paths
from ._shared import (
    DEFAULT_WAIT_SECONDS,
    MAX_WAIT_SECONDS,
    READ_ONLY_LOCAL,
    JobId,
    bearable_wait,
    billed_words,
    job_result,
    progress_reporter,
    summary,
)
from ._shelf import ToolShelf


def job_line(job: JobResult) -> str:
    """One job as a line of list_jobs' text: the rest is in the structured output."""
    cost = "" if job.cost_usd is None else f", USD {job.cost_usd:.2f}{billed_words(job)}"
    video = f", {job.video.url}" if job.video else ""
    return f"{job.job_id}: {job.operation}, {job.status}{cost}, {job.created_at:%Y-%m-%d %H:%M} UTC{video}"


def cancel_summary(before: Job, report: "CancelReport") -> str:
    """What a cancel really did, and what may still be billed."""
    after = report.job
    if before.finished:
        ended = summary(before.result(server_paths=shows_server_paths()))
        return f"Job {before.job_id} had already ended ({before.status}); nothing was cancelled. {ended}"
    if after.film is not None:
        return film_cancel_summary(after, report.shots)
    if after.status == "cancelled":
        return f"Job {after.job_id} was cancelled before it ran; nothing was billed for it."
    if after.finished:
        ended_as = summary(after.result(server_paths=shows_server_paths()))
        return f"Job {after.job_id} ended before the cancel reached it. {ended_as}"
    if report.deferred:
        return (
            f"Job {after.job_id} was still being submitted, so fal could not be asked yet: the cancel is recorded, "
            "and fal is asked to cancel the moment its answer to the submit arrives. A job still in the queue is "
            "dropped and not billed. Call get_job to see how it ends."
        )
    if report.fal_answer == "already_completed":
        return (
            f"fal had already finished job {after.job_id} when the cancel arrived, so it was not cancelled and is "
            "billed. Call get_job for its video."
        )
    return (
        f"Asked fal to cancel job {after.job_id} (it was {before.status}). A job still in the queue is dropped and not "
        "billed; one already generating may still finish, and then it is billed. Call get_job to see how it ends."
    )


def film_cancel_summary(film: Job, stopping: tuple[str, ...]) -> str:
    """What cancelling a film did to its shots (`stopping`: those it asked to stop), and what stays billed."""
    progress = film.film
    assert progress is not None
    done = sum((shot.cost_usd or 0.0) for shot in progress.shots if shot.status == "completed")
    if film.finished:
        return f"Film {film.job_id} was cancelled. Billed for its finished shots: USD {film.cost_usd or 0:.2f}."
    if progress.phase == "assembling":
        return (
            f"Film {film.job_id} was not cancelled: all its shots were already made and billed (USD {done:.2f}), and "
            "it is being assembled, which costs nothing more. Call get_job for the film."
        )
    asked = (
        f"its unfinished shots ({', '.join(stopping)}) were asked to stop: a queued shot is dropped unbilled, one "
        "already generating may still finish and be billed"
        if stopping
        else "no shot of it had reached fal yet (one on its way there is cancelled as soon as fal answers)"
    )
    return (
        f"Film {film.job_id} is being cancelled: nothing more is submitted, and {asked}. Shots finished before the "
        f"cancel stay billed: USD {done:.2f}. Call get_job to see how it ends."
    )


class JobList(BaseModel):
    jobs: list[JobResult]
    count: int


def register(shelf: ToolShelf) -> None:
    @shelf.tool(
        name="get_job",
        title="Get a video job",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=True),
        meta=PLAYER_META,
        description="A job's (or film's) status, and its video when done; wait_seconds waits for it to finish (use "
        f"{DEFAULT_WAIT_SECONDS} while it is queued or running).",
    )
    @tool_errors
    async def get_job(
        job_id: JobId,
        ctx: Context[Any, Any],
        wait_seconds: Annotated[int, Field(ge=0, le=MAX_WAIT_SECONDS)] = 0,
    ) -> Annotated[CallToolResult, JobResult]:
        runner = (await app_state(ctx).backend()).runner
        wait = bearable_wait(ctx, wait_seconds)
        job = await runner.wait(job_id.strip(), wait.seconds, progress_reporter(ctx), owner=caller().user)
        return job_result(job, note=wait.note)

    @shelf.tool(
        name="cancel_job",
        title="Cancel a video job",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
        ),
        description="Cancel an unfinished job, or a film's unfinished shots. A queued job is dropped unbilled; one "
        "already generating may still finish and be billed.",
    )
    @tool_errors
    async def cancel_job(job_id: JobId, ctx: Context[Any, Any]) -> Annotated[CallToolResult, JobResult]:
        runner = (await app_state(ctx).backend()).runner
        owner = caller().user
        before = await runner.get(job_id.strip(), owner)
        report = await runner.cancel(before.job_id, owner)
        return job_result(report.job, text=cancel_summary(before, report))

    @shelf.tool(
        name="list_jobs",
        title="List video jobs",
        annotations=READ_ONLY_LOCAL,
        description="Your jobs, newest first, with status, video URL and cost.",
    )
    @tool_errors
    async def list_jobs(
        ctx: Context[Any, Any],
        status: JobStatus | None = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
    ) -> Annotated[CallToolResult, JobList]:
        runner = (await app_state(ctx).backend()).runner
        jobs = [
            job.result(server_paths=shows_server_paths()) for job in await runner.recent(limit, status, caller().user)
        ]
        listed = JobList(jobs=jobs, count=len(jobs))
        lines = [job_line(job) for job in jobs] or ["No jobs recorded yet."]
        return CallToolResult(
            content=[TextContent(type="text", text="\n".join(lines))], structured_content=listed.model_dump(mode="json")
        )
