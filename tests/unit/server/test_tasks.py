"""A job seen as a task: each era's status words and field names, and a handle that expires while the job stays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from happyhorse_mcp.domain.catalog import Operation
from happyhorse_mcp.domain.models import Job, JobError, TaskHandle, utcnow
from happyhorse_mcp.server.tasks import task_view


def _job(status: str, **changes: object) -> Job:
    return Job(
        job_id="hh_0123456789abcdef",
        status=status,
        operation=Operation.TEXT_TO_VIDEO,
        endpoint="alibaba/happy-horse/text-to-video",
        arguments={"prompt": "a horse"},
        task=TaskHandle(ttl_ms=60_000),
        **changes,
    )


@pytest.mark.parametrize(
    ("status", "legacy", "modern"),
    [
        ("submitting", "working", "working"),
        ("queued", "working", "working"),
        ("running", "working", "working"),
        ("completed", "completed", "completed"),
        # 2025-11-25: a tool result with isError is a failed task; 2026-07-28: a completed one carrying that result.
        ("failed", "failed", "completed"),
        ("unknown", "failed", "completed"),
        ("cancelled", "cancelled", "cancelled"),
    ],
)
def test_each_job_status_maps_to_each_era_s_task_status(status: str, legacy: str, modern: str) -> None:
    error = JobError(type="x", message="fal said no") if status in ("failed", "unknown") else None
    job = _job(status, error=error)

    assert task_view(job, modern=False, poll_ms=5000)["status"] == legacy
    assert task_view(job, modern=True, poll_ms=5000)["status"] == modern


def test_each_era_names_its_fields_its_own_way() -> None:
    job = _job("queued", queue_position=3)

    assert task_view(job, modern=False, poll_ms=5000) == {
        "taskId": "hh_0123456789abcdef",
        "status": "working",
        "statusMessage": "Queued at fal (position 3)",
        "createdAt": job.created_at.isoformat().replace("+00:00", "Z"),
        "lastUpdatedAt": job.updated_at.isoformat().replace("+00:00", "Z"),
        "ttl": 60_000,
        "pollInterval": 5000,
    }
    modern = task_view(job, modern=True, poll_ms=5000, detailed=True)
    assert (modern["ttlMs"], modern["pollIntervalMs"]) == (60_000, 5000)
    assert "result" not in modern  # no result until the job ends


def test_a_finished_modern_task_carries_the_tool_s_own_result_and_a_failed_one_its_error() -> None:
    done = task_view(
        _job("completed", output={"video": {"url": "https://v3.fal.media/x.mp4"}}),
        modern=True,
        poll_ms=1,
        detailed=True,
    )
    failed = task_view(
        _job("failed", error=JobError(type="content_policy_violation", message="fal refused the prompt")),
        modern=True,
        poll_ms=1,
        detailed=True,
    )

    assert done["result"]["isError"] is False
    assert done["result"]["structuredContent"]["video"]["url"] == "https://v3.fal.media/x.mp4"
    assert failed["result"]["isError"] is True
    assert failed["statusMessage"] == "fal refused the prompt"


def test_a_handle_expires_after_its_ttl_but_never_without_one() -> None:
    created = utcnow()

    assert not TaskHandle(ttl_ms=60_000).expired(created, created + timedelta(seconds=59))
    assert TaskHandle(ttl_ms=60_000).expired(created, created + timedelta(seconds=61))
    assert not TaskHandle(ttl_ms=None).expired(created, created + timedelta(days=365))
