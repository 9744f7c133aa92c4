"""Job stores: the interface, SQLite (the default, durable), PostgreSQL (replicas) and memory (unit tests)."""

from pathlib import Path

import anyio.to_thread

from ...domain.errors import StoreError
from .base import Admission, Decide, FalKeyStore, JobStore, Lease, Store


async def open_store(data_dir: Path, database_url: str | None = None) -> Store:
    """PostgreSQL when a database URL is given, else the SQLite file in the data dir."""
    if database_url:
        try:
            from .postgres import PostgresJobStore
        except ImportError as exc:
            raise StoreError(
                "HAPPYHORSE_DATABASE_URL is set, but PostgreSQL support is not installed: install "
                "happyhorse-mcp[postgres] (psycopg 3), or unset the variable to use SQLite."
            ) from exc
        return await PostgresJobStore.open(database_url)
    from .sqlite import SqliteJobStore

    return await anyio.to_thread.run_sync(SqliteJobStore, data_dir / "jobs.sqlite3")


__all__ = ["Admission", "Decide", "FalKeyStore", "JobStore", "Lease", "Store", "open_store"]
