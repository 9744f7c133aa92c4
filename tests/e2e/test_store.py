"""The job store: migrations, and what a restart finds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mcp import Client

from happyhorse_mcp.config import Settings
from happyhorse_mcp.domain.catalog import Operation
from happyhorse_mcp.domain.errors import StoreTooNewError
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.jobs.store.sqlite import SCHEMA_VERSION, SqliteJobStore

from ..fakefal import FakeFal
from ..support import make_server

pytestmark = pytest.mark.anyio


async def test_a_version_1_store_is_migrated_in_place_keeping_its_jobs_for_the_local_user(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE jobs (job_id TEXT PRIMARY KEY, status TEXT NOT NULL, created_at TEXT NOT NULL, "
        "updated_at TEXT NOT NULL, record TEXT NOT NULL); PRAGMA user_version = 1;"
    )
    job = Job(job_id="hh_old", operation=Operation.TEXT_TO_VIDEO, endpoint="e", arguments={}, status="completed")
    db.execute(
        "INSERT INTO jobs VALUES (?, ?, ?, ?, ?)",
        (
            job.job_id,
            job.status,
            job.created_at.isoformat(),
            job.updated_at.isoformat(),
            job.model_dump_json(exclude={"owner"}),
        ),
    )
    db.commit()
    db.close()

    store = SqliteJobStore(path)
    try:
        version = store._db.execute("PRAGMA user_version").fetchone()[0]
        mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
        kept = store._db.execute("SELECT job_id, idempotency_key, owner FROM jobs").fetchall()
        mine, theirs = await store.get("hh_old", "local"), await store.get("hh_old", "alice")
    finally:
        await store.close()
    assert version == SCHEMA_VERSION
    assert mode == "wal"
    assert kept == [("hh_old", None, "local")]
    assert (mine is not None, theirs) == (True, None)


def test_a_store_from_a_newer_version_is_refused_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreTooNewError, match="newer happyhorse-mcp"):
        SqliteJobStore(path)


async def test_a_job_cut_off_mid_submit_is_shown_as_unknown_after_a_restart_and_never_resent(
    settings: Settings, fake: FakeFal
) -> None:
    store = SqliteJobStore(settings.data_dir / "jobs.sqlite3")
    cut_off = Job(
        job_id="hh_cutoff",
        operation=Operation.TEXT_TO_VIDEO,
        endpoint="alibaba/happy-horse/text-to-video",
        arguments={"prompt": "a horse"},
        cost_usd=1.4,
    )
    await store.put(cut_off)
    await store.close()

    async with Client(make_server(settings)) as client:
        result = await client.call_tool("get_job", {"job_id": "hh_cutoff"})
    assert result.structured_content is not None
    assert result.structured_content["status"] == "unknown"
    assert "may have been billed" in result.structured_content["error"]["message"]
    assert "fal.ai/dashboard/requests" in result.structured_content["error"]["message"]
    assert fake.requests == []


async def test_a_store_the_server_cannot_open_makes_every_tool_say_why(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True)
    db = sqlite3.connect(settings.data_dir / "jobs.sqlite3")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    async with Client(make_server(settings)) as client:
        result = await client.call_tool("list_jobs", {})
    assert result.is_error
    assert "newer happyhorse-mcp" in result.content[0].text  # type: ignore[union-attr]
