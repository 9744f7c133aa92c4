"""Job records on disk: one SQLite file under the data dir, every call run off the event loop."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

from .models import TERMINAL_STATUSES, Job

T = TypeVar("T")

SCHEMA_VERSION = 2
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
    2: """
        ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;
        ALTER TABLE jobs ADD COLUMN cost_usd REAL;
        CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
    """,
}
# Jobs that cost nothing: fal bills only runs that produce a result.
UNBILLED_STATUSES = ("failed", "cancelled")


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
        row = (
            job.job_id,
            job.status,
            job.created_at.isoformat(),
            job.updated_at.isoformat(),
            job.model_dump_json(),
            job.idempotency_key,
            job.cost_usd,
        )
        await self._run(
            lambda: self._db.execute(
                "INSERT INTO jobs (job_id, status, created_at, updated_at, record, idempotency_key, cost_usd) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, "
                "updated_at = excluded.updated_at, record = excluded.record, cost_usd = excluded.cost_usd",
                row,
            )
        )

    async def by_idempotency_key(self, key: str) -> Job | None:
        row = await self._run(
            lambda: self._db.execute("SELECT record FROM jobs WHERE idempotency_key = ?", (key,)).fetchone()
        )
        return Job.model_validate_json(row[0]) if row else None

    async def spend_since(self, since: datetime | None) -> float:
        """USD committed by jobs created since `since` (all time when None): finished or still running."""
        marks = ",".join("?" * len(UNBILLED_STATUSES))
        row = await self._run(
            lambda: self._db.execute(
                f"SELECT COALESCE(SUM(cost_usd), 0) FROM jobs WHERE created_at >= ? AND status NOT IN ({marks})",  # noqa: S608
                ((since.isoformat() if since else ""), *UNBILLED_STATUSES),
            ).fetchone()
        )
        return float(row[0])

    async def get(self, job_id: str) -> Job | None:
        row = await self._run(
            lambda: self._db.execute("SELECT record FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        )
        return Job.model_validate_json(row[0]) if row else None

    async def recent(self, limit: int = 50, status: str | None = None) -> list[Job]:
        rows = await self._run(
            lambda: self._db.execute(
                "SELECT record FROM jobs WHERE ? IS NULL OR status = ? ORDER BY created_at DESC LIMIT ?",
                (status, status, limit),
            ).fetchall()
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
