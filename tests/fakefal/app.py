"""A fake of fal's queue and storage APIs for HappyHorse, faithful to docs/fal-protocol.md.

Jobs move IN_QUEUE -> IN_PROGRESS -> COMPLETED on a timer (`queue_seconds`, `run_seconds`) or, with `hold=True`,
only when a test calls `start()` / `complete()`. Faults are queued per route and served before the real answer.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import anyio
from anyio.abc import TaskGroup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from happyhorse_mcp.domain.pricing import table_unit_prices

from .webhooks import Deliveries, event_body

VALID_KEY = "fake-key-id:fake-key-secret"
# An admin key of the same account: only it reads billing events (a normal key gets 403, as at fal).
ADMIN_KEY = "fake-admin-id:fake-admin-secret"
ENDPOINTS = {
    "alibaba/happy-horse/text-to-video",
    "alibaba/happy-horse/image-to-video",
    "alibaba/happy-horse/reference-to-video",
    "alibaba/happy-horse/video-edit",
    "alibaba/happy-horse/v1.1/text-to-video",
    "alibaba/happy-horse/v1.1/image-to-video",
    "alibaba/happy-horse/v1.1/reference-to-video",
}
REQUIRED = {
    "text-to-video": ("prompt",),
    "image-to-video": ("image_url",),
    "reference-to-video": ("prompt", "image_urls"),
    "video-edit": ("video_url", "prompt"),
}
FAKE_VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2048

Route_ = Literal["submit", "status", "stream", "result", "cancel", "download"]
Outcome = Literal["success", "content_policy", "validation", "infra_error"]
State = Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]


FaultKind = Literal[
    "http", "reset", "malformed", "early_close", "drop_mid_job", "short_body", "endless_event", "silent", "slow_line"
]


@dataclass
class Fault:
    """One canned answer, served instead of the real one.

    - http: HTTP `status` with `body` and `headers`.
    - reset: the connection dies right after the headers.
    - drop_mid_job (status stream only): the connection dies after the first real event.
    - malformed: HTTP 200 whose body is not JSON (on the status stream: an event whose data is not JSON).
    - early_close: the status stream ends cleanly, before any event.
    - short_body (download only): Content-Length promises more than the body holds.
    - endless_event (status stream only): one event's data grows without end (here, 8 MB with no line break).
    - silent (status stream only): IN_QUEUE, then keep-alive comments for ever, never COMPLETED.
    - slow_line (status stream only): one line that grows a byte at a time and never ends.
    `accept` (submit only): fal takes, and will bill, the job before the fault is served.
    """

    kind: FaultKind = "http"
    status: int = 500
    body: bytes = b'{"detail": "Internal Server Error"}'
    headers: dict[str, str] = field(default_factory=dict)
    accept: bool = False


class _Reset:
    """An ASGI response that sends its headers and `partial` body, then loses the connection."""

    def __init__(self, partial: bytes, media_type: str) -> None:
        self.partial = partial
        self.media_type = media_type

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", self.media_type.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.partial, "more_body": True})
        raise ConnectionResetError("fake fal: connection reset")


class _ShortBody:
    """An ASGI response whose Content-Length is larger than the body it sends."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"video/mp4"), (b"content-length", str(len(self.body) + 1000).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def _served(fault: Fault, media_type: str = "application/json", partial: bytes = b"") -> Any:
    match fault.kind:
        case "reset":
            return _Reset(partial, media_type)
        case "malformed":
            return Response(b'{"status": "IN_QUEUE", "request_id": ', status_code=200, media_type=media_type)
        case _:
            return Response(fault.body, status_code=fault.status, headers=fault.headers)


@dataclass
class FakeJob:
    request_id: str
    endpoint_id: str
    arguments: dict[str, Any]
    outcome: Outcome
    state: State = "IN_QUEUE"
    queue_position: int = 0
    cancelled: bool = False
    expired: bool = False
    problems: list[dict[str, Any]] = field(default_factory=list)  # a 422 answered at the result
    account: str = ""  # whose request it is: only that fal account may read or cancel it
    next_transition: float | None = None
    changed: anyio.Event = field(default_factory=anyio.Event)
    webhook_url: str | None = None  # `?fal_webhook=` at submit: where its end is posted
    submitted_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    base: str = ""  # the fake's URL as the submit reached it, for the output's video URL


class FakeFal:
    def __init__(
        self,
        *,
        queue_seconds: float = 0.0,
        run_seconds: float = 0.0,
        hold: bool = False,
        queue_position: int = 0,
        validate_at: Literal["result", "submit"] = "result",
        run_spread: float = 0.0,
    ) -> None:
        self.queue_seconds = queue_seconds
        self.run_seconds = run_seconds
        self.run_spread = run_spread  # each run lasts run_seconds plus up to this much more (benchmarks)
        self.hold = hold
        # Where a 422 (bad input, content policy) comes back: real fal usually takes the job and fails it at the
        # result; "submit" refuses it up front.
        self.validate_at = validate_at
        self.initial_queue_position = queue_position
        self.keys = {VALID_KEY}
        # `fal auth login`: access tokens fal takes as "Bearer", and the refresh tokens its login service swaps for
        # new ones (POST /oauth/token, as auth.fal.ai does).
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.refreshes = 0
        self.balance_exhausted = False
        self.jobs: dict[str, FakeJob] = {}
        self.submits: list[FakeJob] = []
        self.outcomes: list[Outcome] = []
        self.faults: dict[Route_, list[Fault]] = {
            r: [] for r in ("submit", "status", "stream", "result", "cancel", "download")
        }
        self.requests: list[tuple[str, str]] = []
        self.authorizations: list[str] = []
        self.uploads: dict[str, bytes] = {}
        self.upload_headers: list[dict[str, str]] = []
        self.download_redirect: str | None = None
        self.downloads = 0
        self.platform_lookups = 0
        # False: fal's payload storage is off for the account (`X-Fal-Store-IO: 0`): records come without output.
        self.platform_payloads = True
        # What fal bills each completed request (USD): `bills` by request id, else `bill` for every one; None: not
        # billed (yet). Billing events are read with an admin key (`admin_keys`); `billing_reads` counts the calls.
        self.bill: float | None = None
        self.bills: dict[str, float] = {}
        # What fal bills a request that failed with a 422 after running ("may still be charged"); a 5xx never is.
        self.bill_failed: float | None = None
        self.admin_keys = {ADMIN_KEY}
        # fal's live prices (`GET /v1/models/pricing`), USD per second: its published table, unless a test changes one.
        self.unit_prices: dict[str, float] = {endpoint: float(usd) for endpoint, usd in table_unit_prices().items()}
        self.pricing_reads = 0
        self.billing_reads: list[list[str]] = []
        # True: every download waits until `release_downloads()` (a server killed while it fetches a film's clips).
        self.hold_downloads = False
        self._downloads_released: anyio.Event | None = None
        self.video_bytes = FAKE_VIDEO
        # True: each request's video is a real MP4 of its own (its duration, its own colours and tone, with sound),
        # for tests that decode, join or continue videos; otherwise every request gets `video_bytes`.
        self.real_clips = False
        self._submitted: anyio.Event | None = None  # set at the next submit, for `submitted()`
        # Signed webhooks (`?fal_webhook=`), sent from the task group given to `attach` (the one serving the fake).
        self.webhooks = Deliveries()
        self._tg: TaskGroup | None = None
        self.app = Starlette(
            routes=[
                Route("/storage/auth/token", self._storage_token, methods=["POST"]),
                Route("/storage/upload/initiate", self._upload_initiate, methods=["POST"]),
                Route("/files/put/{file_id}/{name}", self._upload_put, methods=["PUT"]),
                Route("/oauth/token", self._oauth_token, methods=["POST"]),
                Route("/files/upload", self._upload, methods=["POST"]),
                Route("/files/{file_id}/{name}", self._download, methods=["GET"]),
                Route("/v1/models/requests/by-endpoint", self._platform_request, methods=["GET"]),
                Route("/v1/models/billing-events", self._billing_events, methods=["GET"]),
                Route("/.well-known/jwks.json", self._jwks, methods=["GET"]),
                Route("/v1/models/pricing", self._pricing, methods=["GET"]),
                Route("/{owner}/{app}/requests/{request_id}/status/stream", self._stream, methods=["GET"]),
                Route("/{owner}/{app}/requests/{request_id}/status", self._status, methods=["GET"]),
                Route("/{owner}/{app}/requests/{request_id}/cancel", self._cancel, methods=["PUT"]),
                Route("/{owner}/{app}/requests/{request_id}", self._result, methods=["GET"]),
                Route("/{endpoint_id:path}", self._submit, methods=["POST"]),
            ]
        )

    # -- switches for tests -------------------------------------------------------------------------------------

    def fail_next(self, route: Route_, fault: Fault | None = None, times: int = 1) -> None:
        self.faults[route].extend([fault or Fault()] * times)

    def attach(self, task_group: TaskGroup) -> None:
        """Where webhooks are sent from: the task group that serves the fake."""
        self._tg = task_group

    def start(self, request_id: str) -> None:
        self._set(self.jobs[request_id], "IN_PROGRESS")

    def complete(self, request_id: str) -> None:
        self._set(self.jobs[request_id], "COMPLETED")

    def expire(self, request_id: str) -> None:
        self.jobs[request_id].expired = True

    def calls(self, route: Route_) -> int:
        return sum(1 for r, _ in self.requests if r == route)

    async def submitted(self, count: int) -> list[FakeJob]:
        """Wait until fal has taken `count` jobs in all (the fake served on the test's own event loop)."""
        with anyio.fail_after(30):
            while len(self.submits) < count:
                self._submitted = self._submitted or anyio.Event()
                await self._submitted.wait()
        return self.submits

    # -- job clock ----------------------------------------------------------------------------------------------

    def _set(self, job: FakeJob, state: State, at: float | None = None) -> None:
        """Move `job` to `state`, as of `at` (when its clock said it would, not when someone looked)."""
        job.state = state
        job.next_transition = None
        if not self.hold and state == "IN_PROGRESS":
            spread = random.uniform(0, self.run_spread) if self.run_spread else 0.0
            job.next_transition = (at if at is not None else time.monotonic()) + self.run_seconds + spread
        previous, job.changed = job.changed, anyio.Event()
        previous.set()

    def _tick(self, job: FakeJob) -> None:
        """A job's clock runs from its submit whether or not anyone polls it, as fal's does."""
        while job.next_transition is not None and time.monotonic() >= job.next_transition:
            self._set(job, "IN_PROGRESS" if job.state == "IN_QUEUE" else "COMPLETED", at=job.next_transition)

    def _status_body(self, job: FakeJob, base: str) -> dict[str, Any]:
        self._tick(job)
        owner, app = job.endpoint_id.split("/")[:2]
        body: dict[str, Any] = {
            "status": job.state,
            "request_id": job.request_id,
            "response_url": f"{base}/{owner}/{app}/requests/{job.request_id}",
        }
        if job.state == "IN_QUEUE":
            body["queue_position"] = job.queue_position
        else:
            body["logs"] = [{"message": "generating", "level": "INFO", "timestamp": "2026-11-24T00:00:00Z"}]
        if job.state == "COMPLETED":
            body["metrics"] = {"inference_time": self.run_seconds}
            error = _job_error(job)
            if error:
                body["error"], body["error_type"] = error
        return body

    # -- handlers -----------------------------------------------------------------------------------------------

    def _fault(self, route: Route_, request: Request) -> Fault | None:
        self.requests.append((route, request.url.path))
        return self.faults[route].pop(0) if self.faults[route] else None

    def _auth_error(self, request: Request, *, recorded: bool = True) -> Response | None:
        """A 401 for a request without a valid key or token. `authorizations` records those of the routes a job
        uses (queue, storage, platform records), not the daily price read, which is the deployment's own."""
        header = request.headers.get("authorization", "")
        if recorded:
            self.authorizations.append(header)
        if header.removeprefix("Bearer ") in self.access_tokens:
            return None
        if not header.startswith("Key ") or header.removeprefix("Key ") not in self.keys:
            return JSONResponse({"detail": "Invalid authentication credentials"}, status_code=401)
        return None

    @staticmethod
    def _account(request: Request) -> str:
        """The fal account a request is signed for: a key is its own account; `fal auth login` tokens, one."""
        header = request.headers.get("authorization", "")
        return "login" if header.startswith("Bearer ") else header.removeprefix("Key ")

    def _job(self, request: Request) -> FakeJob | Response:
        job = self.jobs.get(request.path_params["request_id"])
        if job is None or job.account != self._account(request):  # another account's request is not found, as at fal
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        return job

    async def _submit(self, request: Request) -> Response:
        fault = self._fault("submit", request)
        if denied := self._auth_error(request):
            return denied
        endpoint_id = request.path_params["endpoint_id"]
        if endpoint_id not in ENDPOINTS:
            return JSONResponse({"detail": f"Application '{endpoint_id}' not found"}, status_code=404)
        if self.balance_exhausted:
            detail = "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."
            return JSONResponse({"detail": detail}, status_code=403)
        try:
            arguments = json.loads(await request.body())
        except json.JSONDecodeError:
            return JSONResponse({"detail": "Invalid JSON"}, status_code=400)
        if fault and not fault.accept:
            return _served(fault)  # type: ignore[no-any-return]
        problems = _validate(endpoint_id, arguments)
        if problems and self.validate_at == "submit":
            return JSONResponse({"detail": problems}, status_code=422)
        job = FakeJob(
            request_id=secrets.token_hex(16),
            endpoint_id=endpoint_id,
            arguments=arguments,
            outcome=self.outcomes.pop(0) if self.outcomes else "success",
            problems=problems,
            queue_position=self.initial_queue_position,
            account=self._account(request),
        )
        if not self.hold:
            job.next_transition = time.monotonic() + self.queue_seconds
        job.base = str(request.base_url).rstrip("/")
        if hook := request.query_params.get("fal_webhook"):
            assert self._tg is not None, "the fake sends webhooks only once attached to a task group"
            job.webhook_url = hook
            self._tg.start_soon(self._deliver, job)
        self.jobs[job.request_id] = job
        self.submits.append(job)
        if self._submitted is not None:
            self._submitted.set()
            self._submitted = None
        base = str(request.base_url).rstrip("/")
        owner, app = endpoint_id.split("/")[:2]
        url = f"{base}/{owner}/{app}/requests/{job.request_id}"
        body = {
            "request_id": job.request_id,
            "response_url": url,
            "status_url": f"{url}/status",
            "cancel_url": f"{url}/cancel",
            "queue_position": job.queue_position,
        }
        if fault:
            return _served(fault)  # type: ignore[no-any-return]  # fal took the job; its answer is lost
        return JSONResponse(body)

    async def _status(self, request: Request) -> Response:
        fault = self._fault("status", request)
        if denied := self._auth_error(request):
            return denied
        if fault:
            return _served(fault)  # type: ignore[no-any-return]
        job = self._job(request)
        if isinstance(job, Response):
            return job
        body = self._status_body(job, str(request.base_url).rstrip("/"))
        return JSONResponse(body, status_code=200 if job.state == "COMPLETED" else 202)

    async def _stream(self, request: Request) -> Response:
        fault = self._fault("stream", request)
        if denied := self._auth_error(request):
            return denied
        job = self._job(request)
        if isinstance(job, Response):
            return job
        base = str(request.base_url).rstrip("/")
        if fault is not None:
            first_event = f"data: {json.dumps(self._status_body(job, base))}\n\n".encode()
            match fault.kind:
                case "http":
                    return _served(fault)  # type: ignore[no-any-return]
                case "reset":
                    return _Reset(b"", "text/event-stream")  # type: ignore[return-value]
                case "drop_mid_job":
                    return _Reset(first_event, "text/event-stream")  # type: ignore[return-value]
                case "malformed":
                    return Response(b"data: {not json\n\n", media_type="text/event-stream")
                case "early_close":
                    return Response(b"", media_type="text/event-stream")
                case "endless_event":

                    async def endless() -> AsyncIterator[bytes]:
                        yield b"data: "
                        for _ in range(128):
                            yield b"x" * 65536

                    return StreamingResponse(endless(), media_type="text/event-stream")
                case "silent" | "slow_line":
                    kind = fault.kind

                    async def stalling() -> AsyncIterator[bytes]:
                        # A queued state, then nothing: whatever the job does, this stream never tells.
                        yield (
                            b'data: {"status": "IN_QUEUE", "queue_position": 0}\n\n' if kind == "silent" else b"data: "
                        )
                        while True:
                            await anyio.sleep(0.01)
                            yield b": keep-alive\n\n" if kind == "silent" else b"x"

                    return StreamingResponse(stalling(), media_type="text/event-stream")

        async def events() -> AsyncIterator[bytes]:
            last: str | None = None
            while True:
                body = self._status_body(job, base)
                encoded = json.dumps(body)
                if encoded != last:
                    yield f"data: {encoded}\n\n".encode()
                    last = encoded
                if job.state == "COMPLETED":
                    return
                changed = job.changed
                wait = 15.0 if job.next_transition is None else max(0.0, job.next_transition - time.monotonic())
                with anyio.move_on_after(min(wait, 15.0)) as scope:
                    await changed.wait()
                if scope.cancelled_caught and job.next_transition is None:
                    yield b": keep-alive\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _result(self, request: Request) -> Response:
        fault = self._fault("result", request)
        if denied := self._auth_error(request):
            return denied
        if fault:
            return _served(fault)  # type: ignore[no-any-return]
        job = self._job(request)
        if isinstance(job, Response):
            return job
        self._tick(job)
        if job.expired:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        if job.state != "COMPLETED":
            return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
        status, body, headers = self._answer(job, str(request.base_url).rstrip("/"))
        return JSONResponse(body, status_code=status, headers=headers)

    def _answer(self, job: FakeJob, base: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """A completed job's result as fal answers it: its output, or the error its run ended with."""
        if job.cancelled:
            body = {"detail": "Request was cancelled", "error_type": "request_cancelled"}
            return 400, body, {"X-Fal-Error-Type": "request_cancelled"}
        if job.problems:
            return 422, {"detail": job.problems}, {}
        match job.outcome:
            case "content_policy":
                detail = [
                    {
                        "loc": ["body", "prompt"],
                        "msg": "The content could not be processed because it contained material flagged by a "
                        "content checker.",
                        "type": "content_policy_violation",
                    }
                ]
                return 422, {"detail": detail}, {}
            case "validation":
                detail = [{"loc": ["body", "image_url"], "msg": "Image too small", "type": "image_too_small"}]
                return 422, {"detail": detail}, {}
            case "infra_error":
                body = {"detail": "Request timed out", "error_type": "request_timeout"}
                return 504, body, {"X-Fal-Error-Type": "request_timeout"}
        return 200, self._output(job, base), {}

    async def _deliver(self, job: FakeJob) -> None:
        """Post the job's end to its webhook URL when it ends (its clock runs without anyone polling)."""
        assert job.webhook_url is not None
        while True:
            self._tick(job)
            if job.state == "COMPLETED":
                break
            changed = job.changed
            wait = None if job.next_transition is None else max(0.0, job.next_transition - time.monotonic())
            with anyio.move_on_after(wait if wait is not None else float("inf")):
                await changed.wait()
        status, answer, _ = self._answer(job, job.base)
        body = event_body(job.request_id, status, answer, payload_error=self.webhooks.payload_error)
        await self.webhooks.send(job.webhook_url, job.request_id, body)

    async def _pricing(self, request: Request) -> Response:
        if denied := self._auth_error(request, recorded=False):
            return denied
        self.pricing_reads += 1
        wanted = request.query_params.getlist("endpoint_id")
        prices = [
            {"endpoint_id": endpoint, "unit_price": self.unit_prices[endpoint], "unit": "second", "currency": "USD"}
            for endpoint in wanted
            if endpoint in self.unit_prices
        ]
        return JSONResponse({"prices": prices})

    async def _jwks(self, request: Request) -> Response:
        self.webhooks.jwks_reads += 1
        return JSONResponse({"keys": [self.webhooks.signer.jwk()]})

    def _video_for(self, job: FakeJob, duration: int) -> bytes:
        if not self.real_clips:
            return self.video_bytes
        from ..media_factory import encoded_video_bytes

        number = self.submits.index(job)
        return encoded_video_bytes(seconds=int(duration), first_colour=number, hertz=220.0 + 110 * number)

    def _output(self, job: FakeJob, base: str) -> dict[str, Any]:
        args = job.arguments
        duration = args.get("duration", 5)
        width, height = (1920, 1080) if args.get("resolution", "1080p") == "1080p" else (1280, 720)
        self.uploads.setdefault(f"{job.request_id}/output.mp4", self._video_for(job, duration))
        video_bytes = self.uploads[f"{job.request_id}/output.mp4"]
        return {
            "video": {
                "url": f"{base}/files/{job.request_id}/output.mp4",
                "content_type": "video/mp4",
                "file_name": "output.mp4",
                "file_size": len(video_bytes),
                "width": width,
                "height": height,
                "fps": 24.0,
                "duration": float(duration),
                "num_frames": 24 * duration,
            },
            "seed": args.get("seed", 42),
        }

    async def _platform_request(self, request: Request) -> Response:
        """fal's platform API: a request's record by endpoint and id (90 days back), with its output when asked."""
        if denied := self._auth_error(request):
            return denied
        self.platform_lookups += 1
        query = request.query_params
        endpoint_id, wanted = query.get("endpoint_id"), query.get("request_id")
        if wanted is not None:
            found = [job] if (job := self.jobs.get(wanted)) is not None else []
        else:  # a window of submits (`start`, `end`), this account's only
            start, end = (datetime.fromisoformat(query[name]) for name in ("start", "end"))
            account = self._account(request)
            found = [job for job in self.submits if job.account == account and start <= job.submitted_at <= end]
        items = []
        for job in found:
            if job.endpoint_id != endpoint_id:
                continue
            self._tick(job)
            item: dict[str, Any] = {"request_id": job.request_id, "endpoint_id": job.endpoint_id, "status_code": 200}
            if query.get("expand") == "payloads" and self.platform_payloads:
                item["json_input"] = job.arguments
                if job.state == "COMPLETED" and not job.cancelled and job.outcome == "success":
                    item["json_output"] = self._output(job, str(request.base_url).rstrip("/"))
            items.append(item)
        return JSONResponse({"items": items, "has_more": False})

    async def _billing_events(self, request: Request) -> Response:
        """fal's billing events (admin key only): one event per billed request asked about (1 to 50 ids)."""
        key = request.headers.get("authorization", "").removeprefix("Key ")
        if key not in self.admin_keys:
            status = 403 if key in self.keys else 401
            return JSONResponse({"detail": "Admin key required"}, status_code=status)
        wanted = request.query_params.getlist("request_id")
        if not 1 <= len(wanted) <= 50:
            return JSONResponse({"detail": "1 to 50 request ids"}, status_code=422)
        self.billing_reads.append(wanted)
        events = []
        for request_id in wanted:
            job = self.jobs.get(request_id)
            if job is None or job.state != "COMPLETED" or job.cancelled or job.outcome == "infra_error":
                continue
            usd = self.bills.get(request_id, self.bill if job.outcome == "success" else self.bill_failed)
            if usd is None:
                continue
            events.append(
                {
                    "request_id": request_id,
                    "endpoint_id": job.endpoint_id,
                    "cost_total": usd,
                    "cost_estimate_nano_usd": int(usd * 1e9),
                }
            )
        return JSONResponse({"billing_events": events})

    async def _cancel(self, request: Request) -> Response:
        fault = self._fault("cancel", request)
        if denied := self._auth_error(request):
            return denied
        if fault:
            return _served(fault)  # type: ignore[no-any-return]
        job = self._job(request)
        if isinstance(job, Response):
            return job
        self._tick(job)
        if job.state == "COMPLETED":
            return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
        if job.state == "IN_QUEUE":
            job.cancelled = True
            self._set(job, "COMPLETED")
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    def issue_access_token(self, *, expires_in: float) -> str:
        """A JWT of the shape fal's login service gives (only its `exp` claim is read), accepted as a Bearer."""

        def segment(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

        token = f"{segment({'alg': 'none'})}.{segment({'exp': int(time.time() + expires_in)})}.{secrets.token_hex(8)}"
        self.access_tokens.add(token)
        return token

    async def _oauth_token(self, request: Request) -> Response:
        form = await request.form()
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.refresh_tokens:
            return JSONResponse({"error": "invalid_grant"}, status_code=403)
        self.refreshes += 1
        return JSONResponse(
            {"access_token": self.issue_access_token(expires_in=3600), "refresh_token": form["refresh_token"]}
        )

    async def _storage_token(self, request: Request) -> Response:
        if denied := self._auth_error(request):
            return denied
        base = str(request.base_url).rstrip("/")
        expires = datetime.now(UTC) + timedelta(hours=1)
        return JSONResponse(
            {"token": secrets.token_hex(8), "token_type": "Bearer", "base_url": base, "expires_at": expires.isoformat()}
        )

    async def _upload_initiate(self, request: Request) -> Response:
        """fal's other upload path (fal-client's fallback, the JS client's only one): a URL to PUT the bytes to."""
        if denied := self._auth_error(request):
            return denied
        body = json.loads(await request.body() or b"{}")
        name = str(body.get("file_name") or "upload.bin")
        file_id = secrets.token_hex(8)
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {"upload_url": f"{base}/files/put/{file_id}/{name}", "file_url": f"{base}/files/{file_id}/{name}"}
        )

    async def _upload_put(self, request: Request) -> Response:
        key = f"{request.path_params['file_id']}/{request.path_params['name']}"
        self.upload_headers.append(dict(request.headers))
        self.uploads[key] = await request.body()
        return Response(status_code=200)

    async def _upload(self, request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse({"detail": "Missing upload token"}, status_code=401)
        file_id = secrets.token_hex(8)
        name = request.headers.get("x-fal-file-name", "upload.bin")
        self.upload_headers.append(dict(request.headers))
        self.uploads[f"{file_id}/{name}"] = await request.body()
        return JSONResponse({"access_url": f"{str(request.base_url).rstrip('/')}/files/{file_id}/{name}"})

    def release_downloads(self) -> None:
        self.hold_downloads = False
        if self._downloads_released is not None:
            self._downloads_released.set()

    async def _download(self, request: Request) -> Response:
        self.downloads += 1
        if self.hold_downloads:
            self._downloads_released = self._downloads_released or anyio.Event()
            await self._downloads_released.wait()
        if fault := self._fault("download", request):
            if fault.kind == "reset":  # the connection dies mid-body
                return _Reset(self.video_bytes[: len(self.video_bytes) // 2], "video/mp4")  # type: ignore[return-value]
            if fault.kind == "short_body":
                return _ShortBody(self.video_bytes)  # type: ignore[return-value]
            return _served(fault)  # type: ignore[no-any-return]
        if self.download_redirect is not None:
            return Response(status_code=302, headers={"Location": self.download_redirect})
        key = f"{request.path_params['file_id']}/{request.path_params['name']}"
        if key not in self.uploads:
            return JSONResponse({"detail": "Not found"}, status_code=404)
        return Response(self.uploads[key], media_type="video/mp4")


def _job_error(job: FakeJob) -> tuple[str, str] | None:
    if job.cancelled:
        return "Request was cancelled", "request_cancelled"
    return {
        "success": None,
        "content_policy": ("Content policy violation", "content_policy_violation"),
        "validation": ("Image too small", "image_too_small"),
        "infra_error": ("Request timed out", "request_timeout"),
    }[job.outcome]


def _validate(endpoint_id: str, arguments: Any) -> list[dict[str, Any]]:
    """The subset of fal's input schema that a client could get wrong."""
    if not isinstance(arguments, dict):
        return [{"loc": ["body"], "msg": "Input should be an object", "type": "model_type"}]
    operation = endpoint_id.rsplit("/", 1)[-1]
    problems = [
        {"loc": ["body", name], "msg": "Field required", "type": "missing"}
        for name in REQUIRED[operation]
        if name not in arguments
    ]
    duration = arguments.get("duration", 5)
    if type(duration) is not int or not 3 <= duration <= 15:
        problems.append({"loc": ["body", "duration"], "msg": "Input should be 3..15", "type": "value_error"})
    prompt = arguments.get("prompt")
    if prompt is not None and not (isinstance(prompt, str) and len(prompt) <= 2500):
        problems.append({"loc": ["body", "prompt"], "msg": "At most 2500 characters", "type": "string_too_long"})
    ratios = {"16:9", "9:16", "1:1", "4:3", "3:4"}
    if "/v1.1/" in endpoint_id:
        ratios |= {"21:9", "9:21", "5:4", "4:5"}
    if "aspect_ratio" in arguments and arguments["aspect_ratio"] not in ratios:
        problems.append({"loc": ["body", "aspect_ratio"], "msg": "Unsupported aspect ratio", "type": "enum"})
    return problems
