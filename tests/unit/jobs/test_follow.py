"""Following one job at fal, against a scripted queue: the status stream's COMPLETED then the result; a stream that
breaks handed to polling; refused reads waited out to a bound and then `unknown`, never `failed`; fal's own failure
final; a request fal cancelled reported as such."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from happyhorse_mcp.domain.catalog import Operation
from happyhorse_mcp.domain.errors import (
    FalValidationError,
    HappyHorseError,
    InvalidKeyError,
    OutcomeUnknownError,
    UpstreamError,
)
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.fal.queue import QueueStatus
from happyhorse_mcp.jobs.follow import Cancelled, FollowPolicy, follow

pytestmark = pytest.mark.anyio

QUICK = FollowPolicy(poll_interval=0.0, max_interval=0.0, refused_reads=3, result_reads=3, stream_check_seconds=60)
JOB = Job(
    job_id="hh_1",
    operation=Operation.TEXT_TO_VIDEO,
    endpoint="alibaba/happy-horse/text-to-video",
    arguments={},
    request_id="r1",
)
OUTPUT = {"video": {"url": "https://v3.fal.media/r1.mp4"}, "seed": 7}


class Scripted:
    """fal's queue for one request: the stream's events (or an error), then each status read and result read."""

    def __init__(
        self,
        stream: list[QueueStatus] | HappyHorseError,
        statuses: list[QueueStatus | HappyHorseError] | None = None,
        results: list[dict[str, Any] | HappyHorseError] | None = None,
    ) -> None:
        self.stream, self.statuses, self.results = stream, list(statuses or []), list(results or [OUTPUT])
        self.reads = 0

    async def stream_status(self, endpoint: str, request_id: str) -> AsyncIterator[QueueStatus]:
        if isinstance(self.stream, HappyHorseError):
            raise self.stream
        for status in self.stream:
            yield status

    async def status(self, endpoint: str, request_id: str) -> QueueStatus:
        self.reads += 1
        answer = self.statuses.pop(0)
        if isinstance(answer, HappyHorseError):
            raise answer
        return answer

    async def result(self, endpoint: str, request_id: str) -> dict[str, Any]:
        answer = self.results.pop(0)
        if isinstance(answer, HappyHorseError):
            raise answer
        return answer


async def _follow(fal: Scripted) -> tuple[Any, list[str]]:
    heard: list[str] = []

    async def on_status(status: QueueStatus) -> None:
        heard.append(status.status)

    return await follow(fal, JOB, QUICK, on_status), heard  # type: ignore[arg-type]


async def test_the_stream_s_completed_is_followed_by_the_result() -> None:
    fal = Scripted([QueueStatus(status="IN_QUEUE", queue_position=1), QueueStatus(status="COMPLETED")])
    outcome, heard = await _follow(fal)
    assert outcome == OUTPUT
    assert heard == ["IN_QUEUE", "COMPLETED"]
    assert fal.reads == 0


async def test_a_broken_stream_is_handed_to_polling() -> None:
    fal = Scripted(UpstreamError("stream broke"), [QueueStatus(status="IN_PROGRESS"), QueueStatus(status="COMPLETED")])
    outcome, heard = await _follow(fal)
    assert outcome == OUTPUT
    assert heard == ["IN_PROGRESS", "COMPLETED"]


async def test_refused_reads_are_waited_out_then_the_outcome_is_unknown_not_failed() -> None:
    refused = InvalidKeyError("key refused")
    blip = Scripted([], [refused, refused, QueueStatus(status="COMPLETED")])
    assert (await _follow(blip))[0] == OUTPUT, "a key refused twice, then accepted: followed to the end"
    persisting = Scripted([], [refused] * 3)
    with pytest.raises(OutcomeUnknownError, match="may still finish the job and bill it"):
        await _follow(persisting)


async def test_fal_s_own_word_that_the_run_failed_is_final() -> None:
    fal = Scripted([QueueStatus(status="COMPLETED")], results=[FalValidationError("image too small")])
    with pytest.raises(FalValidationError):
        await _follow(fal)


async def test_a_request_fal_cancelled_before_it_ran_is_cancelled() -> None:
    fal = Scripted([QueueStatus(status="COMPLETED", error="cancelled", error_type="request_cancelled")])
    outcome, _ = await _follow(fal)
    assert isinstance(outcome, Cancelled)
