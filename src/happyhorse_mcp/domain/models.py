"""The job record this server keeps, and the result shape every generation tool and get_job return."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .catalog import Operation
from .errors import SUGGESTED_WAIT_SECONDS
from .film import FilmKind, FilmProgress
from .principal import LOCAL_USER
from .uris import job_uri, video_uri

JobStatus = Literal["submitting", "queued", "running", "completed", "failed", "cancelled", "unknown"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled", "unknown"})


def utcnow() -> datetime:
    return datetime.now(UTC)


class VideoFile(BaseModel):
    """The finished video as fal describes it; fal leaves some fields out."""

    model_config = ConfigDict(extra="ignore")

    url: str = Field(description="Public fal CDN URL of the MP4.")
    content_type: str | None = None
    file_name: str | None = None
    file_size: int | None = Field(default=None, description="Bytes.")
    width: int | None = None
    height: int | None = None
    duration: float | None = Field(default=None, description="Seconds.")
    fps: float | None = None
    num_frames: int | None = None


class LocalCopy(BaseModel):
    path: str = Field(description="Where the video was saved on this machine.")
    sha256: str = Field(description="Checksum of the saved file.")
    size: int = Field(description="Bytes.")
    note: str | None = Field(default=None, description="Set when the video was saved under another name.")


class JobError(BaseModel):
    type: str = Field(description="Stable error name, e.g. content_policy_violation, validation_error, rate_limited.")
    message: str = Field(description="What went wrong and what to do next.")


PROMPT_SHOWN = 300


def excerpt(text: object, limit: int = PROMPT_SHOWN) -> str | None:
    """`text` cut to `limit` characters, an ellipsis marking the cut; None for no text."""
    if not isinstance(text, str):
        return None
    return text if len(text) <= limit else text[: limit - 3] + "..."


class JobResult(BaseModel):
    """A HappyHorse job (or film) as the tools report it."""

    job_id: str = Field(description="This server's id for the job: pass it to get_job or cancel_job.")
    status: JobStatus = Field(
        description="submitting | queued | running | completed | failed | cancelled; unknown when the submit may "
        "have reached fal but its answer was lost (never resubmitted)."
    )
    operation: Operation | FilmKind
    endpoint: str = Field(description="fal endpoint id that runs the job.")
    prompt: str | None = Field(default=None, description=f"The job's prompt (its first {PROMPT_SHOWN} characters).")
    fal_request_id: str | None = Field(default=None, description="fal's request id, as shown in fal's dashboard.")
    video: VideoFile | None = Field(default=None, description="The finished video, when completed.")
    seed: int | None = Field(default=None, description="Seed fal used (pass it again to reproduce a take).")
    cost_usd: float | None = Field(default=None, description="This job's price from the price table.")
    billed_usd: float | None = Field(default=None, description="What fal billed, once read (FAL_ADMIN_KEY).")
    error: JobError | None = Field(default=None, description="Why the job failed, when it did.")
    queue_position: int | None = None
    created_at: datetime
    finished_at: datetime | None = None
    local_file: LocalCopy | None = Field(default=None, description="The saved copy, when one was asked for.")
    download_error: str | None = Field(default=None, description="Why the video could not be saved, if it was not.")
    resource_uri: str = Field(description="MCP resource with this job as JSON.")
    next_step: str | None = Field(default=None, description="What to do next, for a job that is not finished.")
    film: FilmProgress | None = Field(default=None, description="A film's shots (each its own job) and phase.")
    sandbox: bool = Field(
        default=False, description="Made by the sandbox's stand-in for fal: a test card, not HappyHorse; not billed."
    )


class TaskHandle(BaseModel):
    """A job started as an MCP task (server/tasks.py): the task id is the job id. The record outlives the handle,
    which expires `ttl_ms` after the job was created (None: never)."""

    ttl_ms: int | None = None

    def expired(self, created_at: datetime, now: datetime) -> bool:
        return self.ttl_ms is not None and (now - created_at).total_seconds() * 1000 > self.ttl_ms


class FalEnding(BaseModel):
    """fal's own word that a job's request ended, from its signed webhook (jobs/webhooks.py), kept with the job: OK
    with the output as `payload` (None with `payload_error` when fal could not send it), or an error."""

    ok: bool
    payload: Any = None
    error: str | None = None
    payload_error: str | None = None
    received_at: datetime = Field(default_factory=utcnow)


class Job(BaseModel):
    """The stored record: the result plus what is needed to follow the job at fal."""

    job_id: str
    # The user the job belongs to (domain/principal.py): only they see, wait on or cancel it.
    owner: str = LOCAL_USER
    # Sent with the owner's own fal key (jobs/accounts.py), so it is read and cancelled with it too.
    own_fal_key: bool = False
    # Made by the sandbox's stand-in for fal (sandbox/), never by HappyHorse: said wherever the job is shown.
    sandbox: bool = False
    # The W3C traceparent of the call that started it (observability/tracing.py): later work joins that trace.
    trace: str | None = None
    status: JobStatus = "submitting"
    operation: Operation | FilmKind
    endpoint: str
    arguments: dict[str, Any]
    request_id: str | None = None
    queue_position: int | None = None
    cost_usd: float | None = None
    # What fal billed for it, from its billing events (jobs/billing.py, with FAL_ADMIN_KEY): counted where known.
    billed_usd: float | None = None
    output: dict[str, Any] | None = None
    error: JobError | None = None
    cancel_requested: bool = False
    idempotency_key: str | None = None
    # sha256 of what the caller sent (endpoint and arguments, local paths as named): a retry's identity.
    fingerprint: str | None = None
    save_path: str | None = None
    local_file: LocalCopy | None = None
    # (device, inode) of the saved copy as written, so a file swapped in later is never served for it.
    saved_identity: tuple[int, int] | None = None
    download_error: str | None = None
    # With webhooks (HAPPYHORSE_WEBHOOK_URL): the job's part of the URL fal posts the request's end to (its id and a
    # secret), and that end once it came.
    webhook_token: str | None = None
    webhook: FalEnding | None = None
    # Set when the call asked for an MCP task: the job is the task, and this is how long its handle lives.
    task: TaskHandle | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    # Raised by one on every write: a write made from an older version is refused, so none is lost.
    version: int = 0

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def film(self) -> FilmProgress | None:
        """A film's progress (its shots and phase); None for a single clip."""
        raw = (self.output or {}).get("film")
        return FilmProgress.model_validate(raw) if isinstance(self.operation, FilmKind) and raw else None

    @property
    def committed_usd(self) -> float:
        """What this record counts against the budgets: a clip its cost; a film what it still holds for shots that
        have no job yet (each shot's job counts itself), nothing once it ended."""
        film = self.film
        if film is None:
            return self.billed_usd if self.billed_usd is not None else self.cost_usd or 0.0
        return 0.0 if self.finished else film.reserved_usd

    @property
    def phase(self) -> str:
        """Where an unfinished job is, in words: progress notifications and task status messages say this."""
        if (film := self.film) is not None:
            if film.phase == "assembling":
                return "Assembling the film"
            return f"Making the shots ({film.done_count} of {len(film.shots)} done)"
        if self.status == "queued" and self.queue_position is not None:
            place = f"position {self.queue_position}" if self.queue_position else "next in line"
            return f"Queued at fal ({place})"
        return {"submitting": "Submitting to fal", "queued": "Queued at fal"}.get(self.status, "Generating")

    @property
    def video(self) -> VideoFile | None:
        raw = (self.output or {}).get("video")
        return VideoFile.model_validate(raw) if isinstance(raw, dict) and raw.get("url") else None

    def _film_words(self) -> str | None:
        """What a film is about, for where a clip shows its prompt: its style, else its first shot's prompt."""
        if self.film is None:
            return None
        shots = self.arguments.get("shots") or [{}]
        words = self.arguments.get("style") or shots[0].get("prompt")
        return str(words) if words else None

    def result(self, *, server_paths: bool = True) -> JobResult:
        """What the caller is told. Without `server_paths` (a caller on another machine), the server's own copy of a
        film (kept to serve it, where no save_to asked for it) is not named: the video resource and URL stand for it."""
        seed = (self.output or {}).get("seed")
        local_file, video = self.local_file, self.video
        if not server_paths and self.save_path is None:
            local_file = None
            if video is not None and video.url.startswith("file:"):
                video = video.model_copy(update={"url": video_uri(self.job_id)})
        next_step = None
        if not self.finished:
            next_step = (
                f"The video is still being made. Call get_job with job_id '{self.job_id}' (wait_seconds up to "
                f"{SUGGESTED_WAIT_SECONDS}) "
                "to wait for it; it keeps running on the server meanwhile."
            )
        return JobResult(
            job_id=self.job_id,
            status=self.status,
            operation=self.operation,
            endpoint=self.endpoint,
            prompt=excerpt(self.arguments.get("prompt") or self._film_words()),
            fal_request_id=self.request_id,
            video=video,
            seed=seed if isinstance(seed, int) else self.arguments.get("seed"),
            cost_usd=self.cost_usd,
            billed_usd=self.billed_usd,
            error=self.error,
            queue_position=self.queue_position if self.status == "queued" else None,
            created_at=self.created_at,
            finished_at=self.finished_at,
            local_file=local_file,
            download_error=self.download_error,
            resource_uri=job_uri(self.job_id),
            next_step=next_step,
            film=self.film,
            sandbox=self.sandbox,
        )
