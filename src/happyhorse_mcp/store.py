"""Job records on disk: one SQLite file under the data dir, every call run off the event loop."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

from .models import TERMINAL_STATUSES, Job

T = TypeVar("T")

SCHEMA_VERSION = 1
_MIGRATIONS: dict[int, str] = {
    1: """
        CREATE TABLE jobs (
            job_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            record TEXT NOT NULL
        );
        CREATE INDEX jobs_created_at ON jobs (created_at);
        CREATE INDEX jobs_status ON jobs (status);
    """,
}


class JobStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer happyhorse-mcp (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade happyhorse-mcp or point HAPPYHORSE_DATA_DIR elsewhere."
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self._db.executescript(f"BEGIN; {_MIGRATIONS[target]} PRAGMA user_version = {target}; COMMIT;")

    async def _run(self, fn: Callable[[], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn()

        return await anyio.to_thread.run_sync(locked)

    async def put(self, job: Job) -> None:
        row = (job.job_id, job.status, job.created_at.isoformat(), job.updated_at.isoformat(), job.model_dump_json())
        await self._run(
            lambda: self._db.execute(
                "INSERT INTO jobs (job_id, status, created_at, updated_at, record) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, "
                "record = excluded.record",
                row,
            )
        )

    async def get(self, job_id: str) -> Job | None:
        row = await self._run(
            lambda: self._db.execute("SELECT record FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        )
        return Job.model_validate_json(row[0]) if row else None

    async def recent(self, limit: int = 50) -> list[Job]:
        rows = await self._run(
            lambda: self._db.execute("SELECT record FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()
        )
        return [Job.model_validate_json(r[0]) for r in rows]

    async def unfinished(self) -> list[Job]:
        marks = ",".join("?" * len(TERMINAL_STATUSES))
        rows = await self._run(
            lambda: self._db.execute(
                f"SELECT record FROM jobs WHERE status NOT IN ({marks}) ORDER BY created_at",  # noqa: S608
                tuple(TERMINAL_STATUSES),
            ).fetchall()
        )
        return [Job.model_validate_json(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
