"""fal's error answers, each turned into the matching domain error with a message for the model."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import httpx

from ..domain.errors import (
    DASHBOARD_BILLING,
    DASHBOARD_KEYS,
    AccountLockedError,
    ContentPolicyError,
    FalValidationError,
    HappyHorseError,
    InvalidKeyError,
    JobNotFoundError,
    ModelRunError,
    NoBalanceError,
    RateLimitedError,
    UpstreamError,
)

if TYPE_CHECKING:
    from ..domain.models import FalEnding


def model_failure(kind: str | None, reason: str | None, *, status_code: int | None = None) -> ModelRunError:
    """The model's own run failed (fal said so at the result or in a COMPLETED status): fal does not bill it."""
    kind = kind or "model_error"
    return ModelRunError(
        f"The job failed on fal's side ({kind}: {reason}). fal does not bill failed runs; try again, perhaps with "
        "another prompt or input.",
        error_type=kind,
        status_code=status_code,
    )


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _detail(response: httpx.Response) -> tuple[Any, dict[str, Any]]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:500], {}
    if isinstance(body, dict):
        return body.get("detail", body), body
    return body, {}


def _validation_messages(detail: Any) -> list[tuple[str, str, str]]:
    """fal's 422 detail as (field, message, type) triples."""
    items = detail if isinstance(detail, list) else [detail]
    out: list[tuple[str, str, str]] = []
    for item in items:
        if isinstance(item, dict):
            loc = item.get("loc") or []
            parts = [str(p) for p in loc if p != "body"] if isinstance(loc, list) else [str(loc)]
            out.append((".".join(parts) or "input", str(item.get("msg", "")), str(item.get("type", ""))))
        else:
            out.append(("input", str(item), ""))
    return out


def key_refused(source: str) -> str:
    """What to do when fal refuses the key in `source` (a variable name)."""
    return (
        f"Check {source}: it should look like 'key-id:key-secret'; create a new one at {DASHBOARD_KEYS} and restart "
        "the server."
    )


def error_from_response(response: httpx.Response, *, doing: str, when_refused: str | None = None) -> HappyHorseError:
    """Turn a fal error answer into the matching error with a message for the model."""
    status = response.status_code
    detail, body = _detail(response)
    text = detail if isinstance(detail, str) else json.dumps(detail)[:500]
    fal_error_type = response.headers.get("x-fal-error-type") or body.get("error_type")
    where = f"while {doing}"
    if status == 401:
        return InvalidKeyError(
            f"fal rejected the credentials (HTTP 401 {where}). " + (when_refused or key_refused("FAL_KEY")),
            status_code=status,
        )
    if status in (402, 403):
        lowered = text.lower()
        if status == 402 or "balance" in lowered or "top up" in lowered:
            return NoBalanceError(
                f"fal refused the job: the account has no balance left ({text}). Top up at {DASHBOARD_BILLING}; "
                "nothing was billed for this call.",
                status_code=status,
            )
        if "locked" in lowered:
            return AccountLockedError(
                f"fal says the account is locked ({text}). Check {DASHBOARD_BILLING} or contact support@fal.ai.",
                status_code=status,
            )
        return InvalidKeyError(
            f"fal refused the API key (HTTP 403 {where}: {text}). Check that FAL_KEY belongs to an account with "
            f"API access ({DASHBOARD_KEYS}).",
            status_code=status,
        )
    if status == 404:
        return JobNotFoundError(
            f"fal does not know this request (HTTP 404 {where}): the id is wrong, or fal no longer keeps it "
            "(results are kept 1 hour, 6 minutes when large).",
            status_code=status,
        )
    if status == 429:
        return RateLimitedError(
            f"fal is rate-limiting this account (HTTP 429 {where}). Wait a minute and try again, "
            "or run fewer jobs at once.",
            retry_after=retry_after(response),
        )
    if status == 422:
        problems = _validation_messages(detail)
        if any(kind == "content_policy_violation" for _, _, kind in problems):
            reasons = "; ".join(
                f"{field}: {msg}" for field, msg, kind in problems if kind == "content_policy_violation"
            )
            return ContentPolicyError(
                f"fal's content checker refused the prompt or an input image ({reasons}). "
                "Rephrase the prompt or use another image, then try again.",
                status_code=status,
            )
        reasons = "; ".join(f"{field}: {msg}" for field, msg, _ in problems)
        return FalValidationError(f"fal rejected the input ({reasons}). Fix it and try again.", status_code=status)
    if fal_error_type and status < 500:
        return ModelRunError(
            f"The job failed on fal's side ({fal_error_type}: {text}). fal does not bill failed runs; "
            "try again, perhaps later.",
            error_type=str(fal_error_type),
            status_code=status,
        )
    if status >= 500 and isinstance(detail, list) and detail:
        # A model's own failure passed through with its status: fal's clients see this from the result endpoint.
        problems = _validation_messages(detail)
        kind = next((kind for _, _, kind in problems if kind), None)
        return model_failure(kind, "; ".join(msg for _, msg, _ in problems), status_code=status)
    if status >= 500:
        # A 5xx naming an error type is still a failed request, not fal's word on the run: a status or result read
        # that fails so is read again, and a job whose status says COMPLETED with an error is failed by that status.
        kind = f", {fal_error_type}" if fal_error_type else ""
        return UpstreamError(
            f"fal had an internal error (HTTP {status}{kind} {where}). fal does not bill 5xx; try again in a minute.",
            status_code=status,
        )
    return UpstreamError(f"fal answered HTTP {status} {where}: {text}", status_code=status)


def webhook_failure(ending: FalEnding) -> HappyHorseError:
    """fal's webhook saying the request failed, as the error its result would have been: the model's error body is
    the payload, and the status it had is in fal's error text ("Invalid status code: 422"), else a 422 when the
    body lists problems as a validation error does."""
    named = re.search(r"\b([45]\d\d)\b", ending.error or "")
    body = ending.payload if isinstance(ending.payload, dict) else {"detail": ending.error or "the request failed"}
    status = int(named.group(1)) if named else 422 if isinstance(body.get("detail"), list) else 500
    return error_from_response(httpx.Response(status, json=body), doing="running the job (fal's webhook)")
