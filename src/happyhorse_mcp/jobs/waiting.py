"""Waiting for a job (or a film) to finish, with progress: what a tool call does while the job runs elsewhere."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio

from ..domain.models import Job
from .changes import ChangeFeed
from .live import LiveJobs

PROGRESS_INTERVAL_SECONDS = 4.0

ProgressFn = Callable[[Job, float], Awaitable[None]]


class Followed(Protocol):
    """Where a job is read (jobs/runner.py's JobRunner): the jobs followed here, and other processes' changes."""

    @property
    def live(self) -> LiveJobs: ...

    changes: ChangeFeed

    async def get(self, job_id: str, owner: str | None = None) -> Job: ...


async def wait_for(
    runner: Followed, job_id: str, wait_seconds: float, progress: ProgressFn | None = None, *, owner: str | None = None
) -> Job:
    """Wait up to `wait_seconds` for the job to finish, reporting progress on every change of its phase (a queue
    position, a film's next shot) and every few seconds.

    A job followed here wakes the wait the moment it changes; one followed by another process, when the store
    reports a change (PostgreSQL's NOTIFY, SQLite's data version)."""
    started = time.monotonic()
    job = await runner.get(job_id, owner)
    reported: tuple[str, float] | None = None
    while not job.finished:
        now = time.monotonic()
        remaining = wait_seconds - (now - started)
        if remaining <= 0:
            break
        # Taken before reporting progress, so a change made meanwhile still wakes this wait; a job another process
        # follows is woken by the store's change feed.
        with contextlib.ExitStack() as stack:
            changed = runner.live.changed(job_id) or stack.enter_context(runner.changes.waiting_on(job_id))
            due = reported is None or job.phase != reported[0] or now - reported[1] >= PROGRESS_INTERVAL_SECONDS
            if progress is not None and due:
                await progress(job, now - started)
                reported = (job.phase, now)
            with anyio.move_on_after(min(remaining, PROGRESS_INTERVAL_SECONDS)):
                await changed.wait()
        job = await runner.get(job_id)
    return job
