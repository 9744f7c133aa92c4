"""How a runner keeps the store and the other processes on it in step: it renews the leases of the jobs it
follows, takes over jobs whose follower is gone, writes again the states the store refused, and wakes the calls
waiting on jobs other processes follow when the store reports their changes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ..domain.errors import DASHBOARD_REQUESTS, HappyHorseError, StoreError, SubmitUncertainError
from ..domain.models import Job, JobStatus
from .follow import FollowPolicy
from .store import JobStore
from .store.base import Lease

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another process follows the job now (or ended it): this one stops following it."""


class Keeping:
    """The part of JobRunner that coordinates with other processes through the store."""

    _store: JobStore
    _tg: TaskGroup
    policy: FollowPolicy
    lease: Lease
    _live: dict[str, Job]
    _changed: dict[str, anyio.Event]
    _unsaved: dict[str, Job]
    _elsewhere: dict[str, set[anyio.Event]]
    _on_change_elsewhere: Callable[[str], Awaitable[None]] | None
    _keeping: bool
    _watching: bool
    _flushing: bool

    async def _follow(self, job_id: str) -> None:
        raise NotImplementedError

    async def _finish(
        self, job_id: str, status: JobStatus, *, error: HappyHorseError | None = None, **extra: Any
    ) -> None:
        raise NotImplementedError

    def _drop(self, job_id: str) -> None:
        raise NotImplementedError

    async def resume(self) -> int:
        """Follow every unfinished job whose follower is gone (a previous run, a process that died); returns how
        many. Keeps doing so, and renewing this process's leases, for as long as the runner runs."""
        adopted = await self._adopt_orphans()
        self._keep_leases()
        self._watch_store()
        return adopted

    async def _adopt_orphans(self) -> int:
        count = 0
        for job in await self._store.claimable():
            if job.job_id in self._live or not await self._store.claim(job.job_id, self.lease):
                continue
            self._live[job.job_id] = job
            self._changed[job.job_id] = anyio.Event()
            if job.request_id is None:  # its submitter is gone: it never recorded fal's answer
                with contextlib.suppress(LeaseLost):
                    await self._finish(
                        job.job_id,
                        "unknown",
                        error=SubmitUncertainError(
                            "The server stopped while submitting this job, before fal's answer was recorded. "
                            f"It may have been billed: look for it at {DASHBOARD_REQUESTS}. It was not resubmitted."
                        ),
                    )
                continue
            logger.info("following job %s, whose follower is gone", job.job_id)
            self._tg.start_soon(self._follow, job.job_id)
            count += 1
        return count

    async def release_leases(self) -> None:
        """On a clean stop: let another process take over this one's jobs at once instead of when leases lapse."""
        with contextlib.suppress(StoreError):
            await self._store.release(self.lease.holder)

    def _keep_leases(self) -> None:
        if not self._keeping:
            self._keeping = True
            self._tg.start_soon(self._keep)

    async def _keep(self) -> None:
        """Renew the leases of the jobs followed here, and take over jobs whose follower is gone."""
        while True:
            await anyio.sleep(self.lease.seconds / 3)
            try:
                asked = list(self._live)  # jobs admitted while the renewal runs are not in it, and not lost
                held = await self._store.renew(self.lease, asked)
                for job_id in set(asked) - held - set(self._unsaved):
                    logger.warning("job %s: lease lost; another process follows it now", job_id)
                    self._drop(job_id)
                await self._adopt_orphans()
            except StoreError as exc:
                logger.error("could not renew or take over leases: %s", exc.message)

    def _watch_store(self) -> None:
        if not self._watching:
            self._watching = True
            self._tg.start_soon(self._watch)

    async def _watch(self) -> None:
        """Wake the calls waiting on jobs other processes follow, as the store reports their changes."""
        while True:
            try:
                await self._watch_changes()
            except StoreError as exc:  # waiters still read the store every few seconds meanwhile
                logger.error("could not watch the store for changes: %s", exc.message)
                await anyio.sleep(self.policy.store_retry)

    async def _watch_changes(self) -> None:
        async for changed in self._store.changes():
            for job_id, events in list(self._elsewhere.items()):
                if changed is None or job_id in changed:
                    for event in events:
                        event.set()
                if not events:
                    self._elsewhere.pop(job_id, None)
            # Subscribers here hear of jobs other processes follow (those followed here are told as they change).
            for job_id in (changed or set()) - set(self._live):
                if self._on_change_elsewhere is not None:
                    await self._on_change_elsewhere(job_id)

    async def _flush_unsaved(self) -> None:
        try:
            while self._unsaved:
                await anyio.sleep(self.policy.store_retry)
                for job_id, job in list(self._unsaved.items()):
                    try:
                        written = await self._store.update(job, holder=self.lease.holder)
                    except StoreError:
                        break
                    if self._unsaved.get(job_id) is not job:
                        continue
                    del self._unsaved[job_id]
                    if written is None:  # another process moved on meanwhile: the store is the truth
                        logger.warning("job %s: a state kept in memory was overtaken in the store", job_id)
                        self._drop(job_id)
                        continue
                    logger.info("job %s written to the store again", job_id)
                    if written.finished:
                        self._drop(job_id)
                    else:
                        self._live[job_id] = written
        finally:
            self._flushing = False
