"""Job stores: the interface, SQLite (the default, durable) and memory (unit tests)."""

from pathlib import Path

from .base import Admission, Decide, JobStore


def open_store(data_dir: Path) -> JobStore:
    """The store for a data dir (blocking: run it in a worker thread)."""
    from .sqlite import SqliteJobStore

    return SqliteJobStore(data_dir / "jobs.sqlite3")


__all__ = ["Admission", "Decide", "JobStore", "open_store"]
