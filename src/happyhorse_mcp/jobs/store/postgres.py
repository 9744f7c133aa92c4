"""Job records in PostgreSQL, for several server replicas sharing one store (HAPPYHORSE_DATABASE_URL).

The same guarantees as the SQLite store, held by the database for every replica: admission is one transaction
holding an advisory lock (no two replicas can both spend the last of the budget), every write is conditional on the
job's version and its follower's lease, and lease times come from the database's clock, so replicas' clocks never
disagree about who follows a job. Imported only when the URL is set (psycopg 3, the `postgres` extra).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio
from psycopg import AsyncConnection, sql
from psycopg.errors import Error as PsycopgError
from psycopg_pool import AsyncConnectionPool

from ...domain.budget import Committed
from ...domain.errors import StoreError, StoreTooNewError
from ...domain.models import TERMINAL_STATUSES, Job
from ...domain.principal import SealedKey
from .base import UNBILLED_STATUSES, Admission, Decide, Lease, admission_of

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 3
CHANNEL = "happyhorse_jobs"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Advisory lock keys (two ints, so they keep apart from other applications' locks): 0x4848 is "HH".
_LOCK_CLASS = 0x4848
_MIGRATION_LOCK, _ADMISSION_LOCK = 0, 1
_MIGRATIONS: dict[int, str] = {
    1: """
        CREATE TABLE jobs (
            job_id text PRIMARY KEY,
            status text NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            record text NOT NULL,
            idempotency_key text,
            cost_usd double precision,
            version integer NOT NULL DEFAULT 0,
            lease_holder text,
            lease_expires timestamptz
        );
        CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX jobs_created_at ON jobs (created_at);
        CREATE INDEX jobs_unfinished ON jobs (status, lease_expires);
    """,
    # Every job belongs to a user; those recorded before users existed, to the local one. Keys are per user.
    2: """
        ALTER TABLE jobs ADD COLUMN owner text NOT NULL DEFAULT 'local';
        DROP INDEX jobs_idempotency_key;
        CREATE UNIQUE INDEX jobs_owner_idempotency_key ON jobs (owner, idempotency_key)
            WHERE idempotency_key IS NOT NULL;
        CREATE INDEX jobs_owner_created_at ON jobs (owner, created_at);
    """,
    # Users' own fal keys, sealed (auth/key_vault.py): never the key itself.
    3: """
        CREATE TABLE fal_keys (
            owner text PRIMARY KEY, key_id text NOT NULL, sealed bytea NOT NULL, saved_at timestamptz NOT NULL
        );
    """,
}
_UNFINISHED = sql.SQL("status <> ALL({})").format(sql.Literal(sorted(TERMINAL_STATUSES)))
_UNBILLED = sql.Literal(list(UNBILLED_STATUSES))
_INSERT = sql.SQL(
    "INSERT INTO jobs (job_id, status, created_at, updated_at, record, idempotency_key, cost_usd, version, "
    "lease_holder, lease_expires, owner) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
    "CASE WHEN %s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %s::float8) END, %s)"
)


def _row(job: Job, lease: Lease | None = None) -> tuple[Any, ...]:
    seconds = lease.seconds if lease else None
    return (
        job.job_id,
        job.status,
        job.created_at,
        job.updated_at,
        job.model_dump_json(),
        job.idempotency_key,
        job.committed_usd,  # what the row counts against the budgets (a film: what it still reserves)
        job.version,
        lease.holder if lease else None,
        seconds,
        seconds,
        job.owner,
    )


class PostgresJobStore:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]], where: str, url: str) -> None:
        self._pool = pool
        self._where = where  # for messages: the database, never its password
        self._url = url
        self._renewer: AsyncConnection[Any] | None = None

    @classmethod
    async def open(cls, url: str, *, max_connections: int = 10) -> PostgresJobStore:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(url)
        where = f"PostgreSQL database {info.get('dbname', '')!s} on {info.get('host', 'localhost')!s}"
        pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            url, min_size=1, max_size=max_connections, open=False, kwargs={"autocommit": True}
        )
        try:
            await pool.open(wait=True, timeout=10)
            store = cls(pool, where, url)
            await store._migrate()
        except (PsycopgError, OSError, TimeoutError) as exc:
            await pool.close()
            raise StoreError(
                f"The job store ({where}) cannot be opened ({type(exc).__name__}: {exc}). Check "
                "HAPPYHORSE_DATABASE_URL and that the database answers, then restart the server."
            ) from exc
        return store

    async def _migrate(self) -> None:
        async with self._pool.connection() as db, db.transaction():
            # Replicas starting together: one runs the migrations, the others wait and find them done.
            await db.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, _MIGRATION_LOCK))
            await db.execute("CREATE TABLE IF NOT EXISTS happyhorse_schema (version integer NOT NULL)")
            row = await (await db.execute("SELECT max(version) FROM happyhorse_schema")).fetchone()
            version = row[0] if row and row[0] is not None else 0
            if version > SCHEMA_VERSION:
                raise StoreTooNewError(
                    f"The {self._where} was written by a newer happyhorse-mcp (schema {version}, this one knows "
                    f"{SCHEMA_VERSION}); upgrade happyhorse-mcp or point HAPPYHORSE_DATABASE_URL elsewhere."
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                await db.execute(_MIGRATIONS[target])
                await db.execute("INSERT INTO happyhorse_schema (version) VALUES (%s)", (target,))

    def _failed(self, exc: Exception) -> StoreError:
        return StoreError(
            f"The job store ({self._where}) could not be used ({type(exc).__name__}: {exc}). Check that the database "
            "answers and has room, then try again."
        )

    async def admit(self, job: Job, decide: Decide, *, day_start: datetime, lease: Lease | None = None) -> Admission:
        try:
            async with self._pool.connection() as db, db.transaction():
                await db.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, _ADMISSION_LOCK))
                earlier = None
                if job.idempotency_key is not None:
                    cursor = await db.execute(
                        "SELECT record FROM jobs WHERE owner = %s AND idempotency_key = %s",
                        (job.owner, job.idempotency_key),
                    )
                    row = await cursor.fetchone()
                    earlier = Job.model_validate_json(row[0]) if row is not None else None
                # Read here when the limits will be asked: the rule itself runs without awaiting.
                committed = await self._committed(db, job.owner, day_start) if earlier is None else Committed()
                admission = admission_of(job, earlier, lambda: committed, decide)
                if admission.created:
                    await db.execute(_INSERT, _row(job, lease))
                    await db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, job.job_id))
                return admission
        except PsycopgError as exc:
            raise self._failed(exc) from exc

    async def _committed(self, db: AsyncConnection[Any], owner: str, day_start: datetime) -> Committed:
        in_flight = await db.execute(
            sql.SQL("SELECT count(*) FROM jobs WHERE owner = %s AND {}").format(_UNFINISHED), (owner,)
        )
        return Committed(
            deployment_usd=await self._spend(db, day_start, None),
            user_usd=await self._spend(db, day_start, owner),
            user_in_flight=int(((await in_flight.fetchone()) or (0,))[0]),
        )

    async def committed(self, owner: str, *, day_start: datetime) -> Committed:
        try:
            async with self._pool.connection() as db:
                return await self._committed(db, owner, day_start)
        except PsycopgError as exc:
            raise self._failed(exc) from exc

    async def _spend(self, db: AsyncConnection[Any], since: datetime | None, owner: str | None) -> float:
        query = sql.SQL(
            "SELECT COALESCE(sum(cost_usd), 0) FROM jobs WHERE created_at >= %s AND (%s::text IS NULL OR owner = %s) "
            "AND status <> ALL({})"
        )
        cursor = await db.execute(query.format(_UNBILLED), (since or EPOCH, owner, owner))
        row = await cursor.fetchone()
        return float(row[0]) if row else 0.0

    async def _execute(self, query: Any, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            async with self._pool.connection() as db:
                cursor = await db.execute(query, params)
                return await cursor.fetchall() if cursor.description else [(cursor.rowcount,)]
        except PsycopgError as exc:
            raise self._failed(exc) from exc

    async def put(self, job: Job) -> None:
        await self._execute(
            _INSERT
            + sql.SQL(
                " ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, "
                "record = excluded.record, cost_usd = excluded.cost_usd, version = excluded.version"
            ),
            _row(job),
        )

    async def update(self, job: Job, *, holder: str | None = None) -> Job | None:
        written = job.model_copy(update={"version": job.version + 1})
        query = sql.SQL(
            "UPDATE jobs SET status = %s, updated_at = %s, record = %s, cost_usd = %s, version = %s{release} "
            "WHERE job_id = %s AND version = %s{held}"
        ).format(
            release=sql.SQL(", lease_holder = NULL, lease_expires = NULL" if written.finished else ""),
            held=sql.SQL(" AND lease_holder = %s" if holder is not None else ""),
        )
        params = (
            written.status,
            written.updated_at,
            written.model_dump_json(),
            written.committed_usd,
            written.version,
            job.job_id,
            job.version,
            *((holder,) if holder is not None else ()),
        )
        try:
            async with self._pool.connection() as db, db.transaction():
                cursor = await db.execute(query, params)
                if cursor.rowcount != 1:
                    return None
                # Delivered when the transaction commits: replicas waiting on the job wake at once.
                await db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, job.job_id))
        except PsycopgError as exc:
            raise self._failed(exc) from exc
        return written

    async def claim(self, job_id: str, lease: Lease) -> bool:
        query = sql.SQL(
            "UPDATE jobs SET lease_holder = %s, lease_expires = now() + make_interval(secs => %s) "
            "WHERE job_id = %s AND {} AND (lease_holder IS NULL OR lease_holder = %s OR lease_expires < now())"
        ).format(_UNFINISHED)
        ((count,),) = await self._execute(query, (lease.holder, lease.seconds, job_id, lease.holder))
        return bool(count == 1)

    async def renew(self, lease: Lease, job_ids: list[str]) -> set[str]:
        """On a connection of its own: a pool busy with many calls must never delay a renewal past the lease, or
        another replica would take over a job whose submitter is alive."""
        if not job_ids:
            return set()
        try:
            if self._renewer is None or self._renewer.closed:
                self._renewer = await AsyncConnection.connect(self._url, autocommit=True)
            cursor = await self._renewer.execute(
                "UPDATE jobs SET lease_expires = now() + make_interval(secs => %s) "
                "WHERE lease_holder = %s AND job_id = ANY(%s) RETURNING job_id",
                (lease.seconds, lease.holder, job_ids),
            )
            return {row[0] for row in await cursor.fetchall()}
        except PsycopgError as exc:
            if self._renewer is not None:
                await self._renewer.close()
                self._renewer = None
            raise self._failed(exc) from exc

    async def release(self, holder: str) -> None:
        await self._execute(
            "UPDATE jobs SET lease_holder = NULL, lease_expires = NULL WHERE lease_holder = %s", (holder,)
        )

    async def claimable(self) -> list[Job]:
        query = sql.SQL(
            "SELECT record FROM jobs WHERE {} AND (lease_holder IS NULL OR lease_expires < now()) ORDER BY created_at"
        ).format(_UNFINISHED)
        return [Job.model_validate_json(row[0]) for row in await self._execute(query)]

    async def get(self, job_id: str, owner: str | None = None) -> Job | None:
        rows = await self._execute(
            "SELECT record FROM jobs WHERE job_id = %s AND (%s::text IS NULL OR owner = %s)", (job_id, owner, owner)
        )
        return Job.model_validate_json(rows[0][0]) if rows else None

    async def by_idempotency_key(self, key: str, owner: str) -> Job | None:
        rows = await self._execute("SELECT record FROM jobs WHERE owner = %s AND idempotency_key = %s", (owner, key))
        return Job.model_validate_json(rows[0][0]) if rows else None

    async def spend_since(self, since: datetime | None, owner: str | None = None) -> float:
        try:
            async with self._pool.connection() as db:
                return await self._spend(db, since, owner)
        except PsycopgError as exc:
            raise self._failed(exc) from exc

    async def recent(self, limit: int = 50, status: str | None = None, owner: str | None = None) -> list[Job]:
        rows = await self._execute(
            "SELECT record FROM jobs WHERE (%s::text IS NULL OR status = %s) AND (%s::text IS NULL OR owner = %s) "
            "ORDER BY created_at DESC LIMIT %s",
            (status, status, owner, owner, limit),
        )
        return [Job.model_validate_json(row[0]) for row in rows]

    async def unfinished(self) -> list[Job]:
        query = sql.SQL("SELECT record FROM jobs WHERE {} ORDER BY created_at").format(_UNFINISHED)
        return [Job.model_validate_json(row[0]) for row in await self._execute(query)]

    async def put_fal_key(self, owner: str, sealed: SealedKey) -> None:
        await self._execute(
            "INSERT INTO fal_keys (owner, key_id, sealed, saved_at) VALUES (%s, %s, %s, now()) ON CONFLICT (owner) "
            "DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, saved_at = excluded.saved_at",
            (owner, sealed.key_id, sealed.blob),
        )

    async def fal_key(self, owner: str) -> SealedKey | None:
        rows = await self._execute("SELECT key_id, sealed FROM fal_keys WHERE owner = %s", (owner,))
        return SealedKey(rows[0][0], bytes(rows[0][1])) if rows else None

    async def delete_fal_key(self, owner: str) -> bool:
        ((count,),) = await self._execute("DELETE FROM fal_keys WHERE owner = %s", (owner,))
        return bool(count)

    async def changes(self) -> AsyncIterator[set[str] | None]:
        """Job ids from NOTIFY, on a connection of its own (a pooled one would be held by LISTEN). After a lost
        connection, None: notifications are not replayed, so whatever waits reads again."""
        while True:
            try:
                async with await AsyncConnection.connect(self._url, autocommit=True) as db:
                    await db.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    yield None
                    async for notice in db.notifies():
                        yield {notice.payload}
            except PsycopgError as exc:
                logger.warning("listening for job changes failed (%s); listening again", type(exc).__name__)
                await anyio.sleep(1.0)

    async def close(self) -> None:
        if self._renewer is not None:
            await self._renewer.close()
        await self._pool.close()
