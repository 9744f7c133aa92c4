"""What other processes on the store change: calls here waiting on a job another process follows are woken when
the store reports its change (PostgreSQL's NOTIFY, SQLite's data version), and the server hears of those jobs too
(its subscribers, its tasks)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager

import anyio
from anyio.abc import TaskGroup

from ..domain.errors import StoreError
from .store import JobStore

logger = logging.getLogger(__name__)


class ChangeFeed:
    def __init__(
        self,
        store: JobStore,
        task_group: TaskGroup,
        *,
        retry_seconds: float,
        followed_here: Callable[[], Iterable[str]],
        on_change_elsewhere: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._tg = task_group
        self._retry = retry_seconds
        self._followed_here = followed_here
        self._on_change_elsewhere = on_change_elsewhere
        self._waiting: dict[str, set[anyio.Event]] = {}
        self._watching = False

    @contextmanager
    def waiting_on(self, job_id: str) -> Iterator[anyio.Event]:
        """An event set when the store reports a change to `job_id` (or cannot tell which job changed)."""
        event = anyio.Event()
        self._waiting.setdefault(job_id, set()).add(event)
        self._watch()
        try:
            yield event
        finally:
            waiting = self._waiting.get(job_id, set())
            waiting.discard(event)
            if not waiting:
                self._waiting.pop(job_id, None)

    def wake(self, job_id: str) -> None:
        """Wake the calls waiting on `job_id` from the store's feed (a job this process took over meanwhile)."""
        for event in self._waiting.get(job_id, ()):
            event.set()

    def _watch(self) -> None:
        if not self._watching:
            self._watching = True
            self._tg.start_soon(self._watch_loop)

    async def _watch_loop(self) -> None:
        while True:
            try:
                await self._follow_feed()
            except StoreError as exc:  # waiters still read the store every few seconds meanwhile
                logger.error("could not watch the store for changes: %s", exc.message)
                await anyio.sleep(self._retry)

    async def _follow_feed(self) -> None:
        async for changed in self._store.changes():
            # Woken by id: with a thousand jobs in flight, each change looks up its own waiters, not every waiter.
            for job_id in list(self._waiting) if changed is None else changed:
                for event in self._waiting.get(job_id, ()):
                    event.set()
            # Subscribers here hear of jobs other processes follow (those followed here are told as they change).
            for job_id in (changed or set()) - set(self._followed_here()):
                if self._on_change_elsewhere is not None:
                    await self._on_change_elsewhere(job_id)

    def start(self) -> None:
        """Watch from now on, waiters or not: the server's subscribers hear of every change."""
        self._watch()
