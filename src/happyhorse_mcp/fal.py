"""The only code that talks to fal's queue: submit, status stream, status, result, cancel.

Written on httpx rather than fal-client because fal-client cannot be pointed at another host (proxies, the test
fake), polls instead of streaming, and resends a submit after a read time-out, which can pay for a video twice.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio
import httpx
from httpx_sse import SSEError, aconnect_sse
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from .errors import (
    DASHBOARD_BILLING,
    DASHBOARD_KEYS,
    DASHBOARD_REQUESTS,
    AccountLockedError,
    ContentPolicyError,
    FalValidationError,
    HappyHorseError,
    InvalidKeyError,
    JobNotFoundError,
    MissingKeyError,
    ModelRunError,
    NoBalanceError,
    ProtocolError,
    RateLimitedError,
    SubmitUncertainError,
    UpstreamError,
)

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 30.0
# fal sends a keep-alive comment every 15 s on the status stream; two missed means the stream is dead.
STREAM_READ_TIMEOUT_SECONDS = 35.0
RETRYABLE_READ_STATUSES = frozenset({429, 500, 502, 503, 504})

M = TypeVar("M", bound=BaseModel)
QueueState = Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for requests that are safe to repeat; Retry-After wins when fal sends one."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        backoff: float = min(self.base_delay * 2**attempt, self.max_delay)
        return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not cryptography


class QueueStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: QueueState
    queue_position: int | None = None
    logs: list[dict[str, Any]] | None = None
    error: str | None = None
    error_type: str | None = None


class SubmitReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    request_id: str
    queue_position: int | None = None


CancelOutcome = Literal["cancellation_requested", "already_completed"]


def default_http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
        follow_redirects=False,
        headers={"User-Agent": "happyhorse-mcp"},
    )


class FalQueue:
    """fal's queue API for one account, over a shared `httpx.AsyncClient`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        queue_url: str,
        key: SecretStr | None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._http = http
        self._queue_url = queue_url.rstrip("/")
        self._key = key
        self._retry = retry or RetryPolicy()

    @property
    def has_key(self) -> bool:
        return self._key is not None

    def _headers(self) -> dict[str, str]:
        if self._key is None:
            raise MissingKeyError()
        return {"Authorization": f"Key {self._key.get_secret_value()}"}

    def _request_url(self, endpoint_id: str, request_id: str, suffix: str = "") -> str:
        # Queue request URLs name only owner/app, never the endpoint's sub-path.
        owner, app = endpoint_id.split("/")[:2]
        return f"{self._queue_url}/{owner}/{app}/requests/{request_id}{suffix}"

    async def submit(self, endpoint_id: str, arguments: dict[str, Any]) -> SubmitReceipt:
        """Queue a job. Retried only when fal clearly did not take it: no connection, or 429."""
        headers = self._headers()
        url = f"{self._queue_url}/{endpoint_id}"
        for attempt in range(self._retry.attempts):
            try:
                response = await self._http.post(url, json=arguments, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached fal: safe to try again.
                if attempt + 1 == self._retry.attempts:
                    raise UpstreamError(
                        f"Could not connect to fal's queue ({type(exc).__name__}); nothing was submitted or billed. "
                        "Check the network (or HAPPYHORSE_FAL_QUEUE_URL) and try again."
                    ) from exc
                await anyio.sleep(self._retry.delay(attempt, None))
                continue
            except httpx.HTTPError as exc:
                raise SubmitUncertainError(
                    f"The submit to {endpoint_id} may have reached fal, but its answer was lost "
                    f"({type(exc).__name__}). It was not sent again, because that could pay for a second video. "
                    f"Check {DASHBOARD_REQUESTS} for the request before submitting again."
                ) from exc
            if response.status_code == 429 and attempt + 1 < self._retry.attempts:
                await anyio.sleep(self._retry.delay(attempt, _retry_after(response)))
                continue
            if response.is_success:
                try:
                    return SubmitReceipt.model_validate_json(response.content)
                except ValidationError as exc:
                    raise SubmitUncertainError(
                        f"fal accepted the submit to {endpoint_id} (HTTP {response.status_code}) but its answer "
                        "could not be read, so the job cannot be followed. It was not sent again. "
                        f"Check {DASHBOARD_REQUESTS} for the request and its video."
                    ) from exc
            raise error_from_response(response, doing=f"submitting to {endpoint_id}")
        raise AssertionError("unreachable: the loop returns or raises")

    async def status(self, endpoint_id: str, request_id: str) -> QueueStatus:
        response = await self._read("GET", self._request_url(endpoint_id, request_id, "/status"), params={"logs": "1"})
        return _parse(QueueStatus, response, doing=f"reading the status of {request_id}")

    async def stream_status(self, endpoint_id: str, request_id: str) -> AsyncIterator[QueueStatus]:
        """Yield each status event until fal closes the stream (after COMPLETED)."""
        url = self._request_url(endpoint_id, request_id, "/status/stream")
        timeout = httpx.Timeout(STREAM_READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
        try:
            async with aconnect_sse(
                self._http, "GET", url, params={"logs": "1"}, headers=self._headers(), timeout=timeout
            ) as source:
                if not source.response.is_success:
                    await source.response.aread()
                    raise error_from_response(source.response, doing=f"streaming the status of {request_id}")
                async for event in source.aiter_sse():
                    if event.data:
                        try:
                            yield QueueStatus.model_validate_json(event.data)
                        except ValidationError as exc:
                            raise ProtocolError(f"fal's status stream sent an unreadable event: {exc}") from exc
        except SSEError as exc:
            raise ProtocolError(f"fal's status stream is not an event stream: {exc}") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"fal's status stream failed ({type(exc).__name__}).") from exc

    async def result(self, endpoint_id: str, request_id: str) -> dict[str, Any]:
        response = await self._read("GET", self._request_url(endpoint_id, request_id))
        try:
            body = response.json()
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"fal's result for {request_id} is not JSON.") from exc
        if not isinstance(body, dict):
            raise ProtocolError(f"fal's result for {request_id} is not a JSON object.")
        return body

    async def cancel(self, endpoint_id: str, request_id: str) -> CancelOutcome:
        url = self._request_url(endpoint_id, request_id, "/cancel")
        response = await self._read("PUT", url, accept=(400,))
        if response.status_code == 400:
            return "already_completed"
        return "cancellation_requested"

    async def _read(
        self, method: str, url: str, *, params: dict[str, str] | None = None, accept: tuple[int, ...] = ()
    ) -> httpx.Response:
        """A request that is safe to repeat: retried on transport errors, 429 and 5xx with backoff."""
        headers = self._headers()
        doing = f"{method} {url.removeprefix(self._queue_url)}"
        for attempt in range(self._retry.attempts):
            last = attempt + 1 == self._retry.attempts
            try:
                response = await self._http.request(method, url, params=params, headers=headers)
            except httpx.HTTPError as exc:
                if last:
                    raise UpstreamError(
                        f"fal did not answer ({type(exc).__name__}) after {self._retry.attempts} tries while "
                        f"{doing}. fal may be down; the job is kept, try get_job again in a minute."
                    ) from exc
                await anyio.sleep(self._retry.delay(attempt, None))
                continue
            if response.is_success or response.status_code in accept:
                return response
            if response.status_code in RETRYABLE_READ_STATUSES and not last:
                await anyio.sleep(self._retry.delay(attempt, _retry_after(response)))
                continue
            raise error_from_response(response, doing=doing)
        raise AssertionError("unreachable: the loop returns or raises")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _parse(model: type[M], response: httpx.Response, *, doing: str) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise ProtocolError(f"fal's answer while {doing} could not be read (HTTP {response.status_code}).") from exc


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


def error_from_response(response: httpx.Response, *, doing: str) -> HappyHorseError:
    """Turn a fal error answer into the matching error with a message for the model."""
    status = response.status_code
    detail, body = _detail(response)
    text = detail if isinstance(detail, str) else json.dumps(detail)[:500]
    fal_error_type = response.headers.get("x-fal-error-type") or body.get("error_type")
    where = f"while {doing}"
    if status == 401:
        return InvalidKeyError(
            f"fal rejected the API key (HTTP 401 {where}). Check FAL_KEY: it should look like 'key-id:key-secret'; "
            f"create a new one at {DASHBOARD_KEYS} and restart the server.",
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
            retry_after=_retry_after(response),
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
    if fal_error_type:
        return ModelRunError(
            f"The job failed on fal's side ({fal_error_type}: {text}). fal does not bill failed runs; "
            "try again, perhaps later.",
            error_type=str(fal_error_type),
            status_code=status,
        )
    if status >= 500:
        return UpstreamError(
            f"fal had an internal error (HTTP {status} {where}). fal does not bill 5xx; try again in a minute.",
            status_code=status,
        )
    return UpstreamError(f"fal answered HTTP {status} {where}: {text}", status_code=status)
