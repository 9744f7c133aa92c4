"""Job records on disk: one SQLite file under the data dir, every call run off the event loop.

Admission runs in one `BEGIN IMMEDIATE` transaction, which holds SQLite's write lock from the idempotency look-up to
the insert: two processes on one data dir cannot both spend the last of the budget. Every other write is a
conditional update on the job's version (and its follower's lease), so no write is lost to another process.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

from ...domain.budget import Committed
from ...domain.errors import StoreError, StoreTooNewError
from ...domain.models import TERMINAL_STATUSES, Job
from ...domain.principal import SealedKey
from .base import UNBILLED_STATUSES, Admission, Decide, Lease, admission_of

T = TypeVar("T")

SCHEMA_VERSION = 5
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
    3: """
        ALTER TABLE jobs ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE jobs ADD COLUMN lease_holder TEXT;
        ALTER TABLE jobs ADD COLUMN lease_expires REAL;
    """,
    # Every job belongs to a user; those recorded before users existed, to the local one. Keys are per user.
    4: """
        ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT 'local';
        DROP INDEX jobs_idempotency_key;
        CREATE UNIQUE INDEX jobs_owner_idempotency_key ON jobs (owner, idempotency_key)
            WHERE idempotency_key IS NOT NULL;
        CREATE INDEX jobs_owner_created_at ON jobs (owner, created_at);
    """,
    # Users' own fal keys, sealed (auth/key_vault.py): never the key itself.
    5: """
        CREATE TABLE fal_keys (
            owner TEXT PRIMARY KEY, key_id TEXT NOT NULL, sealed BLOB NOT NULL, saved_at REAL NOT NULL
        );
    """,
}
# How often other processes' writes are looked for (a call waiting on a job another process follows).
WATCH_SECONDS = 0.1
# How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_MS = 10_000
_UNBILLED_MARKS = ",".join("?" * len(UNBILLED_STATUSES))
# Spend since a time, by one owner or (owner NULL) by everyone.
_SPEND_SQL = (
    "SELECT COALESCE(SUM(cost_usd), 0) FROM jobs WHERE created_at >= ? AND (? IS NULL OR owner = ?) "  # noqa: S608
    f"AND status NOT IN ({_UNBILLED_MARKS})"
)
_INSERT_SQL = (
    "INSERT INTO jobs (job_id, status, created_at, updated_at, record, idempotency_key, cost_usd, version, "
    "lease_holder, lease_expires, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UNFINISHED = f"status NOT IN ({','.join(repr(s) for s in sorted(TERMINAL_STATUSES))})"


def _row(job: Job, lease: Lease | None = None) -> tuple[object, ...]:
    return (
        job.job_id,
        job.status,
        job.created_at.isoformat(),
        job.updated_at.isoformat(),
        job.model_dump_json(),
        job.idempotency_key,
        job.committed_usd,  # what the row counts against the budgets (a film: what it still reserves)
        job.version,
        lease.holder if lease else None,
        time.time() + lease.seconds if lease else None,
        job.owner,
    )


class SqliteJobStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._migrate()
            self._db.execute("SELECT count(*) FROM jobs").fetchone()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(
                f"The job store {path} cannot be read ({exc}): it is damaged or not a happyhorse-mcp store. Move it "
                "aside (the server then starts a new one and the file stays for recovery) or point "
                "HAPPYHORSE_DATA_DIR elsewhere, then restart the server."
            ) from exc

    def _migrate(self) -> None:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreTooNewError(
                f"{self.path} was written by a newer happyhorse-mcp (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade happyhorse-mcp or point HAPPYHORSE_DATA_DIR elsewhere."
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self._db.executescript(f"BEGIN; {_MIGRATIONS[target]} PRAGMA user_version = {target}; COMMIT;")

    async def _run(self, fn: Callable[[], T]) -> T:
        def locked() -> T:
            with self._lock:
                try:
                    return fn()
                except sqlite3.Error as exc:
                    raise StoreError(
                        f"The job store {self.path} could not be used ({exc}): the disk may be full or the file "
                        "damaged. Free some space, or move the file aside and restart the server."
                    ) from exc

        return await anyio.to_thread.run_sync(locked)

    async def admit(self, job: Job, decide: Decide, *, day_start: datetime, lease: Lease | None = None) -> Admission:
        def transaction() -> Admission:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                admission = self._admit(job, decide, day_start, lease)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return admission

        return await self._run(transaction)

    def _admit(self, job: Job, decide: Decide, day_start: datetime, lease: Lease | None) -> Admission:
        earlier = self._by_key(job.idempotency_key, job.owner) if job.idempotency_key is not None else None
        admission = admission_of(job, earlier, lambda: self._committed(job.owner, day_start), decide)
        if admission.created:
            self._db.execute(_INSERT_SQL, _row(job, lease))
        return admission

    async def put(self, job: Job) -> None:
        await self._run(
            lambda: self._db.execute(
                _INSERT_SQL + " ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, "
                "updated_at = excluded.updated_at, record = excluded.record, cost_usd = excluded.cost_usd, "
                "version = excluded.version",
                _row(job),
            )
        )

    async def update(self, job: Job, *, holder: str | None = None) -> Job | None:
        written = job.model_copy(update={"version": job.version + 1})
        release = ", lease_holder = NULL, lease_expires = NULL" if written.finished else ""
        held = " AND lease_holder = ?" if holder is not None else ""
        cursor = await self._run(
            lambda: self._db.execute(
                f"UPDATE jobs SET status = ?, updated_at = ?, record = ?, cost_usd = ?, version = ?{release} "  # noqa: S608
                f"WHERE job_id = ? AND version = ?{held}",
                (
                    written.status,
                    written.updated_at.isoformat(),
                    written.model_dump_json(),
                    written.committed_usd,
                    written.version,
                    job.job_id,
                    job.version,
                    *((holder,) if holder is not None else ()),
                ),
            )
        )
        return written if cursor.rowcount == 1 else None

    async def claim(self, job_id: str, lease: Lease) -> bool:
        now = time.time()
        cursor = await self._run(
            lambda: self._db.execute(
                f"UPDATE jobs SET lease_holder = ?, lease_expires = ? WHERE job_id = ? AND {_UNFINISHED} "  # noqa: S608
                "AND (lease_holder IS NULL OR lease_holder = ? OR lease_expires < ?)",
                (lease.holder, now + lease.seconds, job_id, lease.holder, now),
            )
        )
        return bool(cursor.rowcount == 1)

    async def renew(self, lease: Lease, job_ids: list[str]) -> set[str]:
        if not job_ids:
            return set()
        marks = ",".join("?" * len(job_ids))

        def renew() -> set[str]:
            self._db.execute(
                f"UPDATE jobs SET lease_expires = ? WHERE lease_holder = ? AND job_id IN ({marks})",  # noqa: S608
                (time.time() + lease.seconds, lease.holder, *job_ids),
            )
            rows = self._db.execute(
                f"SELECT job_id FROM jobs WHERE lease_holder = ? AND job_id IN ({marks})",  # noqa: S608
                (lease.holder, *job_ids),
            ).fetchall()
            return {row[0] for row in rows}

        return await self._run(renew)

    async def release(self, holder: str) -> None:
        await self._run(
            lambda: self._db.execute(
                "UPDATE jobs SET lease_holder = NULL, lease_expires = NULL WHERE lease_holder = ?", (holder,)
            )
        )

    async def claimable(self) -> list[Job]:
        rows = await self._run(
            lambda: self._db.execute(
                f"SELECT record FROM jobs WHERE {_UNFINISHED} AND (lease_holder IS NULL OR lease_expires < ?) "  # noqa: S608
                "ORDER BY created_at",
                (time.time(),),
            ).fetchall()
        )
        return [Job.model_validate_json(r[0]) for r in rows]

    def _by_key(self, key: str, owner: str) -> Job | None:
        row = self._db.execute(
            "SELECT record FROM jobs WHERE owner = ? AND idempotency_key = ?", (owner, key)
        ).fetchone()
        return Job.model_validate_json(row[0]) if row is not None else None

    def _committed(self, owner: str, day_start: datetime) -> Committed:
        (in_flight,) = self._db.execute(
            f"SELECT count(*) FROM jobs WHERE owner = ? AND {_UNFINISHED}",  # noqa: S608
            (owner,),
        ).fetchone()
        return Committed(
            deployment_usd=self._spend(day_start, None),
            user_usd=self._spend(day_start, owner),
            user_in_flight=int(in_flight),
        )

    async def committed(self, owner: str, *, day_start: datetime) -> Committed:
        return await self._run(lambda: self._committed(owner, day_start))

    def _spend(self, since: datetime | None, owner: str | None) -> float:
        since_text = since.isoformat() if since else ""
        return float(self._db.execute(_SPEND_SQL, (since_text, owner, owner, *UNBILLED_STATUSES)).fetchone()[0])

    async def by_idempotency_key(self, key: str, owner: str) -> Job | None:
        return await self._run(lambda: self._by_key(key, owner))

    async def spend_since(self, since: datetime | None, owner: str | None = None) -> float:
        return await self._run(lambda: self._spend(since, owner))

    async def get(self, job_id: str, owner: str | None = None) -> Job | None:
        row = await self._run(
            lambda: self._db.execute(
                "SELECT record FROM jobs WHERE job_id = ? AND (? IS NULL OR owner = ?)", (job_id, owner, owner)
            ).fetchone()
        )
        return Job.model_validate_json(row[0]) if row else None

    async def recent(self, limit: int = 50, status: str | None = None, owner: str | None = None) -> list[Job]:
        rows = await self._run(
            lambda: self._db.execute(
                "SELECT record FROM jobs WHERE (? IS NULL OR status = ?) AND (? IS NULL OR owner = ?) "
                "ORDER BY created_at DESC LIMIT ?",
                (status, status, owner, owner, limit),
            ).fetchall()
        )
        return [Job.model_validate_json(r[0]) for r in rows]

    async def unfinished(self) -> list[Job]:
        rows = await self._run(
            lambda: self._db.execute(
                f"SELECT record FROM jobs WHERE {_UNFINISHED} ORDER BY created_at"  # noqa: S608
            ).fetchall()
        )
        return [Job.model_validate_json(r[0]) for r in rows]

    async def put_fal_key(self, owner: str, sealed: SealedKey) -> None:
        await self._run(
            lambda: self._db.execute(
                "INSERT INTO fal_keys (owner, key_id, sealed, saved_at) VALUES (?, ?, ?, ?) ON CONFLICT (owner) DO "
                "UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, saved_at = excluded.saved_at",
                (owner, sealed.key_id, sealed.blob, time.time()),
            )
        )

    async def fal_key(self, owner: str) -> SealedKey | None:
        row = await self._run(
            lambda: self._db.execute("SELECT key_id, sealed FROM fal_keys WHERE owner = ?", (owner,)).fetchone()
        )
        return SealedKey(row[0], bytes(row[1])) if row else None

    async def delete_fal_key(self, owner: str) -> bool:
        cursor = await self._run(lambda: self._db.execute("DELETE FROM fal_keys WHERE owner = ?", (owner,)))
        return bool(cursor.rowcount)

    async def changes(self) -> AsyncIterator[set[str] | None]:
        """SQLite has no notifications: `PRAGMA data_version` changes when another connection commits."""
        last = None
        while True:
            version = await self._run(lambda: self._db.execute("PRAGMA data_version").fetchone()[0])
            if last is not None and version != last:
                yield None
            last = version
            await anyio.sleep(WATCH_SECONDS)

    async def close(self) -> None:
        await self._run(self._db.close)
