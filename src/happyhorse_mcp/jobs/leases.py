"""One follower per job across every process on a store: this process's lease on the jobs it follows, renewed while
it follows them, and the jobs whose follower is gone, taken over. The runner gives its part as callables: which
jobs it follows, which of them are being written or wait to be, what to do with a job it lost or took over."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

import anyio
from anyio.abc import TaskGroup

from ..domain.errors import StoreError
from ..domain.models import Job
from .store import JobStore
from .store.base import Lease

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another process follows the job now (or ended it): this one stops following it."""


class Leases:
    def __init__(
        self,
        store: JobStore,
        lease: Lease,
        task_group: TaskGroup,
        *,
        followed: Callable[[], Iterable[str]],
        unsettled: Callable[[], Iterable[str]],
        lost: Callable[[str], None],
        take_over: Callable[[Job], Awaitable[bool]],
    ) -> None:
        self._store = store
        self.lease = lease
        self._tg = task_group
        self._followed = followed
        self._unsettled = unsettled
        self._lost = lost
        self._take_over = take_over
        self._keeping = False

    def keep(self) -> None:
        """Renew this process's leases, and take over jobs whose follower is gone, for as long as the runner runs."""
        if not self._keeping:
            self._keeping = True
            self._tg.start_soon(self._keep)

    async def take_over_orphans(self) -> int:
        """Claim every unfinished job whose follower is gone (a previous run, a process that died) and hand it to
        the runner; how many it follows now."""
        count = 0
        followed = set(self._followed())
        for job in await self._store.claimable():
            if job.job_id in followed or not await self._store.claim(job.job_id, self.lease):
                continue
            if await self._take_over(job):
                count += 1
        return count

    async def release(self) -> None:
        """On a clean stop: let another process take over this one's jobs at once instead of when leases lapse."""
        with contextlib.suppress(StoreError):
            await self._store.release(self.lease.holder)

    async def _keep(self) -> None:
        while True:
            await anyio.sleep(self.lease.seconds / 3)
            try:
                asked = list(self._followed())  # jobs admitted while the renewal runs are not in it, and not lost
                held = await self._store.renew(self.lease, asked)
                # Not renewed: taken by another process, or ended (a job's last write frees its lease). Only a job
                # still followed here with no write under way can be told apart: one ended here was dropped by its
                # writer, and a write under way meets a loss itself.
                judged = set(self._followed()) - set(self._unsettled())
                for job_id in sorted(judged.intersection(asked) - held):
                    logger.warning("job %s: lease lost; another process follows it now", job_id)
                    self._lost(job_id)
                await self.take_over_orphans()
            except StoreError as exc:
                logger.error("could not renew or take over leases: %s", exc.message)
