"""Every error the server raises, each with a message that says what went wrong and what to do next.

Domain code raises only these; `server.boundary` turns them into tool and resource errors. The messages reach the
model, so they never hold the key or a request's headers.

They form a tree by who must act, each branch with its default handling while a job is followed at fal:
- `CallerError`: the call must change (an argument, a file, a prompt fal refused): final, the job `failed`;
- `AccountError`: the person's account or sign-in must change (a key, a balance, a scope, a budget); fal's word on
  a key or a balance while following is waited out (a key rotated, a balance topped up meanwhile);
- `FalSideError`: fal must recover (rate limits, outages, answers that cannot be read): waited out, then `unknown`;
- `UnknownOutcome`: nobody knows yet whether fal ran and billed the job: it ends `unknown`, its estimate counted;
- `ServerSideError`: this server or its operator must act (the store, a download, assembling a film).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

# What a failed read means while a job is followed at fal (jobs/follow.py reads it):
# - final: the job's outcome: following stops with this error;
# - refused, unreadable, outage: waited out, each kind with its own patience (FollowPolicy), then `unknown`;
# - gone: fal no longer knows the request, so how it ended cannot be learned: `unknown`.
ReadPolicy = Literal["final", "refused", "unreadable", "outage", "gone"]
# How a job that this error ends is recorded: failed (fal's word that the run failed, which fal does not bill) or
# unknown (fal may have run it and billed it: its estimate stays counted).
EndsAs = Literal["failed", "unknown"]

# How long a model is told to wait in one get_job call, wherever it is told: under the 60 s many hosts hold a call.
SUGGESTED_WAIT_SECONDS = 50
DASHBOARD_REQUESTS = "https://fal.ai/dashboard/requests"
DASHBOARD_KEYS = "https://fal.ai/dashboard/keys"
DASHBOARD_BILLING = "https://fal.ai/dashboard/billing"


class HappyHorseError(Exception):
    """Base of every anticipated failure; `type` is the stable name shown in a job's `error.type`."""

    type: ClassVar[str] = "error"
    while_following: ClassVar[ReadPolicy] = "final"
    ends_job_as: ClassVar[EndsAs] = "failed"

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class CallerError(HappyHorseError):
    """The call must change: an argument, a local file, a prompt fal's checker refused."""


class AccountError(HappyHorseError):
    """The person's account or sign-in must change: a key, a balance, a scope, a budget. Found at fal while a job is
    followed (a key, a balance, a lock) it is waited out: a key rotated or a balance topped up meanwhile."""


class FalSideError(HappyHorseError):
    """fal must recover: rate limits, outages, answers that cannot be read."""

    while_following: ClassVar[ReadPolicy] = "outage"


class UnknownOutcome(HappyHorseError):
    """Nobody knows yet whether fal ran the job (and billed it): it ends `unknown`, its estimate counted."""

    ends_job_as: ClassVar[EndsAs] = "unknown"


class ServerSideError(HappyHorseError):
    """This server or its operator must act: the job store, a download, assembling a film."""


class MissingKeyError(AccountError):
    type = "missing_key"

    def __init__(self) -> None:
        super().__init__(
            "No fal key is configured. Set FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET) in the environment the MCP "
            f"host starts this server with, or run `fal auth login`, then restart it. Keys are at {DASHBOARD_KEYS}. "
            "estimate_cost works without a key."
        )


class InvalidKeyError(AccountError):
    type = "invalid_key"
    while_following = "refused"


class NoBalanceError(AccountError):
    type = "no_balance"
    while_following = "refused"


class AccountLockedError(AccountError):
    type = "account_locked"
    while_following = "refused"


class RateLimitedError(FalSideError):
    type = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, status_code: int | None = 429) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class FalValidationError(CallerError):
    """fal's 422: the inputs broke a rule of the model's schema."""

    type = "validation_error"


class ContentPolicyError(CallerError):
    type = "content_policy_violation"


class JobNotFoundError(FalSideError):
    """fal does not know the request (unknown id) or no longer keeps its result (expired)."""

    type = "not_found"
    while_following = "gone"


class UpstreamError(FalSideError):
    """fal is down, overloaded or timed out: 5xx, connection failures, time-outs."""

    type = "upstream_error"


class ModelRunError(FalSideError):
    """The job reached fal but its run failed on fal's side (request_timeout, startup_timeout, ...): fal's word on
    how it ended, which fal does not bill."""

    while_following = "final"

    def __init__(self, message: str, *, error_type: str, status_code: int | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.error_type = error_type

    @property
    def kind(self) -> str:
        return self.error_type


class SubmitUncertainError(UnknownOutcome):
    """The submit may have reached fal but its answer was lost: resending it could pay for a second video."""

    type = "submit_uncertain"


class OutcomeUnknownError(UnknownOutcome):
    """fal took the job, but how it ended could not be learned: it may have been billed."""

    type = "outcome_unknown"


class StoreError(ServerSideError):
    """The job store could not be read or written (a full disk, a damaged file)."""

    type = "store_error"


class StoreTooNewError(StoreError):
    """The job store was written by a newer happyhorse-mcp, whose schema this one does not know."""


class ProtocolError(FalSideError):
    """fal answered with something this server cannot read (malformed JSON, a missing field)."""

    type = "protocol_error"
    while_following = "unreadable"


class InvalidArgumentError(CallerError):
    """An argument breaks a rule that the schema cannot express; nothing was sent."""

    type = "invalid_argument"


class UnsupportedVersionError(InvalidArgumentError):
    def __init__(self, operation: str, version: str, offered: list[str]) -> None:
        super().__init__(
            f"version '{version}' has no {operation} endpoint; {operation} is offered on: {', '.join(offered)}"
        )


class InvalidMediaError(CallerError):
    """A local file or `save_to` destination is refused (outside the allowed folders, wrong kind, too big...)."""

    type = "invalid_media"


class DownloadError(ServerSideError):
    type = "download_error"


class NoVideoYetError(JobNotFoundError):
    """A job without a finished video: still running (say how to wait), or ended without one."""

    type = "no_video"

    def __init__(self, job_id: str, status: str) -> None:
        if status in ("submitting", "queued", "running"):
            text = (
                f"Job {job_id} has no video yet (status {status}). Call get_job with job_id '{job_id}' and "
                f"wait_seconds={SUGGESTED_WAIT_SECONDS} until it is completed, then try again."
            )
        else:
            text = f"Job {job_id} ended {status} without a video: there is nothing to look at."
        super().__init__(text)


class FilmError(ServerSideError):
    """A film that could not be finished here after its shots were made (assembly, saving): the shots stay billed
    and listed with their jobs."""

    type = "film_failed"


class UnreadableVideoError(CallerError):
    """A video file that cannot be reviewed: not a video, damaged, or asked about moments it does not have."""

    type = "unreadable_video"


class UnknownJobError(CallerError):
    type = "unknown_job"

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"No job '{job_id}' on this server. Job ids look like 'hh_0123456789abcdef'; list_jobs shows your jobs."
        )


class NotAllowedError(AccountError):
    """The caller's sign-in does not grant what the call needs (a scope)."""

    type = "not_allowed"

    def __init__(self, scope: str, what: str, *, by_oauth: bool = True) -> None:
        if by_oauth:
            then = f"Sign in again and allow {scope} when asked, or ask the server's operator to grant it to you."
        else:
            then = (
                f"Your access token cannot be widened by signing in again: ask the server's operator for {scope} (the "
                "scopes after your name in HAPPYHORSE_HTTP_TOKENS_FILE)."
            )
        super().__init__(
            f"Your sign-in does not allow {what}: it lacks the scope {scope}. Nothing was submitted or billed. {then}"
        )
        self.scope = scope


class IdempotencyConflictError(CallerError):
    type = "idempotency_conflict"

    def __init__(self, key: str, job_id: str) -> None:
        super().__init__(
            f"idempotency_key '{key}' was already used for job {job_id} with other arguments. Nothing was submitted. "
            "Use a new key for a new video, or get_job to read that job."
        )


RefusalKind = Literal["max_cost", "per_job", "jobs_in_flight", "user_daily_budget", "daily_budget"]


@dataclass(frozen=True)
class Refusal:
    """Why the spend limits refuse a job, with the figures: `problem` says what breaks, `remedy` what to do."""

    kind: RefusalKind
    cost_usd: float
    limit_usd: float
    left_today_usd: float
    problem: str
    remedy: str

    @property
    def reason(self) -> str:
        """The refusal as `estimate_cost` reports it: nothing was about to be submitted."""
        return f"{self.problem} {self.remedy}"


class BudgetExceededError(AccountError):
    type = "budget_exceeded"

    def __init__(self, refusal: Refusal, *, hint: str = "") -> None:
        super().__init__(f"{refusal.problem} Nothing was submitted. {refusal.remedy}{hint}")
        self.refusal = refusal


class NotConfirmedError(CallerError):
    type = "not_confirmed"


class ServerNotReadyError(ServerSideError):
    """The job store or the fal client could not start (an unwritable data dir, a store from a newer version)."""

    type = "server_not_ready"


def error_type(error: HappyHorseError) -> str:
    return error.kind if isinstance(error, ModelRunError) else error.type
