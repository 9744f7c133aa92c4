"""A stand-in for fal, served in this process to the server's own HTTP client (no socket, no network): the queue
(submit, status, its event stream, result, cancel) and storage (upload, files) as fal speaks them for HappyHorse,
so every part of the server runs as it does against fal. Jobs wait half a second in the queue and run for two;
their videos are test cards made here (clips.py) of the asked length, size and aspect ratio. Any key is taken."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..domain.uris import SANDBOX_REQUEST_PREFIX, SANDBOX_URL
from .clips import frame_size, test_card_clip

QUEUE_SECONDS = 0.5
RUN_SECONDS = 2.0


@dataclass
class _Job:
    endpoint_id: str
    arguments: dict[str, Any]
    submitted: float = field(default_factory=time.monotonic)
    cancelled: bool = False
    # The caller's seed, else one drawn at submit, as fal does: it is in the result and on the card.
    seed: int = field(default_factory=lambda: secrets.randbelow(2**31))

    def clip(self) -> bytes:
        """The job's video: a test card of its length, in the frame of its resolution and aspect ratio."""
        given = self.arguments
        width, height = self.frame
        prompt = str(given.get("prompt") or "")
        return test_card_clip(prompt=prompt, seed=self.seed, seconds=self.seconds, width=width, height=height)

    @property
    def seconds(self) -> int:
        return int(self.arguments.get("duration") or 5)

    @property
    def frame(self) -> tuple[int, int]:
        given = self.arguments
        return frame_size(str(given.get("resolution") or "1080p"), str(given.get("aspect_ratio") or "16:9"))

    def state(self) -> str:
        waited = time.monotonic() - self.submitted
        if self.cancelled or waited >= QUEUE_SECONDS + RUN_SECONDS:
            return "COMPLETED"
        return "IN_QUEUE" if waited < QUEUE_SECONDS else "IN_PROGRESS"


class StandIn:
    """The stand-in's state: the jobs it took and the files it keeps, in memory for the life of the process."""

    def __init__(self) -> None:
        self.jobs: dict[str, _Job] = {}
        self.files: dict[str, bytes] = {}
        self._making = anyio.Lock()  # one clip made at a time: they are CPU work
        self.app = Starlette(
            routes=[
                Route("/storage/auth/token", self._token, methods=["POST"]),
                Route("/files/upload", self._upload, methods=["POST"]),
                Route("/files/{file_id}/{name}", self._file, methods=["GET"]),
                Route("/{owner}/{app}/requests/{request_id}/status/stream", self._stream, methods=["GET"]),
                Route("/{owner}/{app}/requests/{request_id}/status", self._status, methods=["GET"]),
                Route("/{owner}/{app}/requests/{request_id}/cancel", self._cancel, methods=["PUT"]),
                Route("/{owner}/{app}/requests/{request_id}", self._result, methods=["GET"]),
                Route("/{endpoint_id:path}", self._submit, methods=["POST"]),
            ]
        )

    def client(self) -> httpx.AsyncClient:
        """An HTTP client whose every request is answered by the stand-in, in this process."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=SANDBOX_URL)

    def _job(self, request: Request) -> _Job | Response:
        job = self.jobs.get(request.path_params["request_id"])
        return job if job is not None else JSONResponse({"detail": "Request not found"}, status_code=404)

    @staticmethod
    def _request_url(job_id: str, endpoint_id: str) -> str:
        owner, app = endpoint_id.split("/")[:2]
        return f"{SANDBOX_URL}/{owner}/{app}/requests/{job_id}"

    def _status_body(self, request_id: str, job: _Job) -> dict[str, Any]:
        state = job.state()
        body: dict[str, Any] = {
            "status": state,
            "request_id": request_id,
            "response_url": self._request_url(request_id, job.endpoint_id),
        }
        if state == "IN_QUEUE":
            body["queue_position"] = 0
        else:
            body["logs"] = [{"message": "making a sandbox test card", "level": "INFO"}]
        if state == "COMPLETED" and job.cancelled:
            body["error"], body["error_type"] = "Request was cancelled", "request_cancelled"
        return body

    async def _submit(self, request: Request) -> Response:
        try:
            arguments = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"detail": "Invalid JSON"}, status_code=400)
        if not isinstance(arguments, dict):
            return JSONResponse({"detail": "Input should be an object"}, status_code=422)
        request_id = SANDBOX_REQUEST_PREFIX + secrets.token_hex(12)
        endpoint_id = request.path_params["endpoint_id"]
        job = _Job(endpoint_id, arguments)
        if isinstance(seed := arguments.get("seed"), int):
            job.seed = seed
        self.jobs[request_id] = job
        url = self._request_url(request_id, endpoint_id)
        return JSONResponse(
            {
                "request_id": request_id,
                "response_url": url,
                "status_url": f"{url}/status",
                "cancel_url": f"{url}/cancel",
                "queue_position": 0,
            }
        )

    async def _status(self, request: Request) -> Response:
        job = self._job(request)
        if isinstance(job, Response):
            return job
        body = self._status_body(request.path_params["request_id"], job)
        return JSONResponse(body, status_code=200 if body["status"] == "COMPLETED" else 202)

    async def _stream(self, request: Request) -> Response:
        job = self._job(request)
        if isinstance(job, Response):
            return job
        request_id = request.path_params["request_id"]

        async def events() -> AsyncIterator[bytes]:
            last = None
            while True:
                body = self._status_body(request_id, job)
                if body["status"] != last:
                    yield f"data: {json.dumps(body)}\n\n".encode()
                    last = body["status"]
                if body["status"] == "COMPLETED":
                    return
                await anyio.sleep(0.1)

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _cancel(self, request: Request) -> Response:
        job = self._job(request)
        if isinstance(job, Response):
            return job
        if job.state() == "COMPLETED":
            return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
        job.cancelled = True
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    async def _result(self, request: Request) -> Response:
        job = self._job(request)
        if isinstance(job, Response):
            return job
        if job.state() != "COMPLETED":
            return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
        if job.cancelled:
            return JSONResponse(
                {"detail": "Request was cancelled", "error_type": "request_cancelled"},
                status_code=400,
                headers={"X-Fal-Error-Type": "request_cancelled"},
            )
        request_id = request.path_params["request_id"]
        key = f"{request_id}/output.mp4"
        arguments = job.arguments
        seconds = int(arguments.get("duration") or 5)
        width, height = frame_size(
            str(arguments.get("resolution") or "1080p"), str(arguments.get("aspect_ratio") or "16:9")
        )
        seed = int(arguments.get("seed") or secrets.randbelow(2**31))
        async with self._making:
            if key not in self.files:
                made = await anyio.to_thread.run_sync(
                    lambda: test_card_clip(
                        prompt=str(arguments.get("prompt") or ""),
                        seed=seed,
                        seconds=seconds,
                        width=width,
                        height=height,
                    )
                )
                self.files[key] = made
        return JSONResponse(
            {
                "video": {
                    "url": f"{SANDBOX_URL}/files/{key}",
                    "content_type": "video/mp4",
                    "file_name": "output.mp4",
                    "file_size": len(self.files[key]),
                    "width": width,
                    "height": height,
                    "fps": 24.0,
                    "duration": float(seconds),
                    "num_frames": 24 * seconds,
                },
                "seed": job.seed,
            }
        )

    async def _token(self, request: Request) -> Response:
        return JSONResponse({"token": secrets.token_hex(8), "token_type": "Bearer", "base_url": SANDBOX_URL})

    async def _upload(self, request: Request) -> Response:
        key = f"{secrets.token_hex(8)}/{request.headers.get('x-fal-file-name', 'upload.bin')}"
        self.files[key] = await request.body()
        return JSONResponse({"access_url": f"{SANDBOX_URL}/files/{key}"})

    async def _file(self, request: Request) -> Response:
        found = self.files.get(f"{request.path_params['file_id']}/{request.path_params['name']}")
        if found is None:
            return JSONResponse({"detail": "Not found"}, status_code=404)
        return Response(found, media_type="video/mp4" if request.path_params["name"].endswith(".mp4") else None)
