"""Errors from fal and the job machinery, each with a message that says what went wrong and what to do next.

The messages reach the model as tool errors, so they never hold the key or a request's headers.
"""

from __future__ import annotations

from typing import ClassVar

DASHBOARD_REQUESTS = "https://fal.ai/dashboard/requests"
DASHBOARD_KEYS = "https://fal.ai/dashboard/keys"
DASHBOARD_BILLING = "https://fal.ai/dashboard/billing"


class HappyHorseError(Exception):
    """Base of every anticipated failure; `type` is the stable name shown in a job's `error.type`."""

    type: ClassVar[str] = "error"

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class MissingKeyError(HappyHorseError):
    type = "missing_key"

    def __init__(self) -> None:
        super().__init__(
            "No fal key is configured. Set FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET) in the environment the MCP "
            f"host starts this server with, then restart it. Keys are at {DASHBOARD_KEYS}. "
            "estimate_cost works without a key."
        )


class InvalidKeyError(HappyHorseError):
    type = "invalid_key"


class NoBalanceError(HappyHorseError):
    type = "no_balance"


class AccountLockedError(HappyHorseError):
    type = "account_locked"


class RateLimitedError(HappyHorseError):
    type = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, status_code: int | None = 429) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class FalValidationError(HappyHorseError):
    """fal's 422: the inputs broke a rule of the model's schema."""

    type = "validation_error"


class ContentPolicyError(HappyHorseError):
    type = "content_policy_violation"


class JobNotFoundError(HappyHorseError):
    """fal does not know the request (unknown id) or no longer keeps its result (expired)."""

    type = "not_found"


class UpstreamError(HappyHorseError):
    """fal is down, overloaded or timed out: 5xx, connection failures, time-outs."""

    type = "upstream_error"


class ModelRunError(HappyHorseError):
    """The job reached fal but its run failed on fal's side (request_timeout, startup_timeout, ...)."""

    def __init__(self, message: str, *, error_type: str, status_code: int | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.error_type = error_type

    @property
    def kind(self) -> str:
        return self.error_type


class SubmitUncertainError(HappyHorseError):
    """The submit may have reached fal but its answer was lost: resending it could pay for a second video."""

    type = "submit_uncertain"


class ProtocolError(HappyHorseError):
    """fal answered with something this server cannot read (malformed JSON, a missing field)."""

    type = "protocol_error"


def error_type(error: HappyHorseError) -> str:
    return error.kind if isinstance(error, ModelRunError) else error.type
