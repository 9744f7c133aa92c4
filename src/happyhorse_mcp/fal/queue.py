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
from datetime import datetime
from typing import Any, Literal, TypeVar

import anyio
import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from ..config.tls import tls_context
from ..domain.errors import (
    DASHBOARD_REQUESTS,
    HappyHorseError,
    MissingKeyError,
    ProtocolError,
    SubmitUncertainError,
    UpstreamError,
)
from .credentials import FalCredentials
from .errors import error_from_response, retry_after
from .sse import data_events

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


def default_http_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The one HTTP client for fal; `transport` lets tests serve the fake fal in-process."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
        follow_redirects=False,
        headers={"User-Agent": "happyhorse-mcp"},
        verify=tls_context(),
        transport=transport,
    )


class FalQueue:
    """fal's queue API for one account, over a shared `httpx.AsyncClient`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        queue_url: str,
        credentials: FalCredentials | None,
        retry: RetryPolicy | None = None,
        api_url: str | None = None,
    ) -> None:
        self._http = http
        self._queue_url = queue_url.rstrip("/")
        self._api_url = api_url.rstrip("/") if api_url else None
        self._credentials = credentials
        self._retry = retry or RetryPolicy()

    def signed_by(self, credentials: FalCredentials) -> FalQueue:
        """The same queue over the same connections, for another account."""
        return FalQueue(
            self._http, queue_url=self._queue_url, credentials=credentials, retry=self._retry, api_url=self._api_url
        )

    async def _headers(self) -> dict[str, str]:
        if self._credentials is None:
            raise MissingKeyError()
        return {"Authorization": await self._credentials.authorization()}

    def _error(self, response: httpx.Response, *, doing: str) -> HappyHorseError:
        hint = self._credentials.when_refused if self._credentials is not None else None
        return error_from_response(response, doing=doing, when_refused=hint)

    def _request_url(self, endpoint_id: str, request_id: str, suffix: str = "") -> str:
        # Queue request URLs name only owner/app, never the endpoint's sub-path.
        owner, app = endpoint_id.split("/")[:2]
        return f"{self._queue_url}/{owner}/{app}/requests/{request_id}{suffix}"

    async def _platform(self, path: str, params: Any, *, doing: str) -> dict[str, Any] | None:
        """A GET of fal's platform API (`HAPPYHORSE_FAL_API_URL`) with this account's key: its JSON object, or None
        for a 404. Raises the error fal's answer means, UpstreamError without one, ProtocolError for an unreadable
        one."""
        try:
            response = await self._http.get(
                f"{self._api_url}/v1{path}",
                params=params,
                headers=await self._headers(),
                timeout=httpx.Timeout(30.0, connect=CONNECT_TIMEOUT_SECONDS),
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"fal's platform API did not answer ({type(exc).__name__}).") from exc
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise self._error(response, doing=doing)
        try:
            body = response.json()
        except ValueError as exc:
            raise ProtocolError("fal's platform API answer could not be read.") from exc
        if not isinstance(body, dict):
            raise ProtocolError("fal's platform API answer is not a JSON object.")
        return body

    async def lookup(self, endpoint_id: str, request_id: str) -> dict[str, Any] | None:
        """fal's platform record of a request (`GET /v1/models/requests/by-endpoint`, which looks back 90 days, with
        its output): what a job whose result the queue no longer keeps still has. None when fal has no such
        request, or no platform API is configured."""
        if self._api_url is None:
            return None
        params = {"endpoint_id": endpoint_id, "request_id": request_id, "expand": "payloads"}
        body = await self._platform("/models/requests/by-endpoint", params, doing=f"looking up request {request_id}")
        items = _objects((body or {}).get("items"))
        return next((item for item in items if item.get("request_id") == request_id), None)

    async def unit_prices(self, endpoint_ids: list[str]) -> list[dict[str, Any]]:
        """fal's live prices for `endpoint_ids` (`GET /v1/models/pricing`, a normal key): each `{endpoint_id,
        unit_price, unit, currency}` fal lists. Empty when no platform API is configured."""
        if self._api_url is None:
            return []
        params = [("endpoint_id", endpoint_id) for endpoint_id in endpoint_ids]
        body = await self._platform("/models/pricing", params, doing="reading fal's prices")
        return _objects((body or {}).get("prices"))

    async def requests_between(
        self, endpoint_id: str, start: datetime, end: datetime, *, pages: int = 10
    ) -> list[dict[str, Any]]:
        """fal's platform records of the requests to `endpoint_id` between `start` and `end`, with their inputs and
        outputs (`expand=payloads`): up to `pages` pages of 100. Empty when no platform API is configured."""
        if self._api_url is None:
            return []
        params = {
            "endpoint_id": endpoint_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "expand": "payloads",
            "limit": "100",
        }
        found: list[dict[str, Any]] = []
        for _ in range(pages):
            page = (
                await self._platform(
                    "/models/requests/by-endpoint", params, doing=f"listing the requests to {endpoint_id}"
                )
                or {}
            )
            found += _objects(page.get("items"))
            if not page.get("has_more") or not page.get("next_cursor"):
                break
            params["cursor"] = str(page["next_cursor"])
        return found

    async def submit(
        self, endpoint_id: str, arguments: dict[str, Any], *, webhook_url: str | None = None
    ) -> SubmitReceipt:
        """Queue a job (fal posts its end to `webhook_url` when given). Retried only when fal clearly did not take it:
        no connection, or 429."""
        headers = await self._headers()
        url = f"{self._queue_url}/{endpoint_id}"
        params = {"fal_webhook": webhook_url} if webhook_url else None
        for attempt in range(self._retry.attempts):
            try:
                response = await self._http.post(url, json=arguments, headers=headers, params=params)
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
                await anyio.sleep(self._retry.delay(attempt, retry_after(response)))
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
            raise self._error(response, doing=f"submitting to {endpoint_id}")
        raise AssertionError("unreachable: the loop returns or raises")

    async def status(self, endpoint_id: str, request_id: str) -> QueueStatus:
        response = await self._read("GET", self._request_url(endpoint_id, request_id, "/status"), params={"logs": "1"})
        return _parse(QueueStatus, response, doing=f"reading the status of {request_id}")

    async def stream_status(self, endpoint_id: str, request_id: str) -> AsyncIterator[QueueStatus]:
        """Yield each status event until fal closes the stream (after COMPLETED)."""
        url = self._request_url(endpoint_id, request_id, "/status/stream")
        timeout = httpx.Timeout(STREAM_READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
        try:
            async with self._http.stream(
                "GET", url, params={"logs": "1"}, headers=await self._headers(), timeout=timeout
            ) as response:
                if not response.is_success:
                    await response.aread()
                    raise self._error(response, doing=f"streaming the status of {request_id}")
                async for data in data_events(response):
                    try:
                        yield QueueStatus.model_validate_json(data)
                    except ValidationError as exc:
                        raise ProtocolError(f"fal's status stream sent an unreadable event: {exc}") from exc
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
        headers = await self._headers()
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
                await anyio.sleep(self._retry.delay(attempt, retry_after(response)))
                continue
            raise self._error(response, doing=doing)
        raise AssertionError("unreachable: the loop returns or raises")


def _objects(items: Any) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _parse(model: type[M], response: httpx.Response, *, doing: str) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise ProtocolError(f"fal's answer while {doing} could not be read (HTTP {response.status_code}).") from exc
