"""What every job store promises, run against each store: SQLite (the default) and memory (for unit tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from happyhorse_mcp.domain.budget import Committed, Spend, SpendLimits, start_of_day
from happyhorse_mcp.domain.catalog import Operation
from happyhorse_mcp.domain.errors import BudgetExceededError
from happyhorse_mcp.domain.film import FILM_ENDPOINT, FilmKind, FilmProgress, Shot, Storyboard, price_film
from happyhorse_mcp.domain.models import Job, utcnow
from happyhorse_mcp.domain.principal import LOCAL_USER, SealedKey
from happyhorse_mcp.jobs.store import Decide, JobStore, Store
from happyhorse_mcp.jobs.store.base import Lease
from happyhorse_mcp.jobs.store.memory import MemoryJobStore
from happyhorse_mcp.jobs.store.sqlite import SqliteJobStore

from ...support import postgres_schema

pytestmark = pytest.mark.anyio

LIMITS = SpendLimits(max_usd_per_job=10.0, daily_budget_usd=3.0)


def job(job_id: str, cost: float = 1.4, key: str | None = None, **fields: object) -> Job:
    return Job(
        job_id=job_id,
        operation=Operation.TEXT_TO_VIDEO,
        endpoint="alibaba/happy-horse/text-to-video",
        arguments={"prompt": job_id},
        cost_usd=cost,
        idempotency_key=key,
        **fields,
    )


def within_budget(cost: float) -> Decide:
    return lambda committed: LIMITS.refusal(Spend(cost), committed)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "postgres":
        from happyhorse_mcp.jobs.store.postgres import PostgresJobStore

        async with postgres_schema() as url:
            opened: Store = await PostgresJobStore.open(url)
            yield opened
            await opened.close()
        return
    opened = SqliteJobStore(tmp_path / "jobs.sqlite3") if request.param == "sqlite" else MemoryJobStore()
    yield opened
    await opened.close()


async def admit(store: JobStore, new: Job) -> tuple[Job, bool]:
    return await store.admit(new, within_budget(new.cost_usd or 0), day_start=start_of_day())


async def test_admission_inserts_a_job_that_fits_the_budget(store: Store) -> None:
    admitted, created = await admit(store, job("hh_1"))
    assert created
    assert (await store.get("hh_1")) == admitted


async def test_admission_refuses_what_would_pass_the_daily_budget_and_records_nothing(store: Store) -> None:
    await admit(store, job("hh_1", cost=2.0))
    with pytest.raises(BudgetExceededError, match=r"only USD 1\.00 of today's budget"):
        await admit(store, job("hh_2", cost=1.5))
    assert await store.get("hh_2") is None


async def test_a_known_idempotency_key_returns_the_earlier_job_without_checking_the_budget(store: Store) -> None:
    first, _ = await admit(store, job("hh_1", cost=2.0, key="k"))
    again, created = await admit(store, job("hh_2", cost=2.0, key="k"))
    assert (again.job_id, created) == (first.job_id, False)
    assert await store.get("hh_2") is None


async def test_concurrent_admissions_never_overspend(store: Store) -> None:
    admitted: list[str] = []

    async def one(n: int) -> None:
        try:
            new, _ = await admit(store, job(f"hh_{n}", cost=1.0))
            admitted.append(new.job_id)
        except BudgetExceededError:
            pass

    async with anyio.create_task_group() as tg:
        for n in range(10):
            tg.start_soon(one, n)
    assert len(admitted) == 3
    assert await store.spend_since(start_of_day()) == 3.0


async def test_failed_and_cancelled_jobs_cost_nothing_and_unknown_ones_count_in_full(store: Store) -> None:
    for job_id, status in [("hh_f", "failed"), ("hh_c", "cancelled"), ("hh_u", "unknown"), ("hh_d", "completed")]:
        await store.put(job(job_id, cost=1.0, status=status))
    assert await store.spend_since(None) == 2.0


async def test_a_finished_job_s_bill_written_later_counts_instead_of_its_estimate(store: Store) -> None:
    await store.put(job("hh_d", cost=1.0, status="completed"))
    finished = await store.get("hh_d")
    assert finished is not None
    assert await store.update(finished.model_copy(update={"billed_usd": 1.05})) is not None
    assert await store.spend_since(None) == pytest.approx(1.05)
    assert (await store.committed(LOCAL_USER, day_start=start_of_day())).deployment_usd == pytest.approx(1.05)


async def test_spend_counts_only_jobs_created_since_the_start(store: Store) -> None:
    await store.put(job("hh_old", cost=1.0, created_at=utcnow() - timedelta(days=2)))
    await store.put(job("hh_new", cost=1.0))
    assert await store.spend_since(start_of_day()) == 1.0
    assert await store.spend_since(None) == 2.0


async def test_recent_is_newest_first_and_filters_by_status(store: Store) -> None:
    now = utcnow()
    for n, status in enumerate(["completed", "running", "completed"]):
        await store.put(job(f"hh_{n}", status=status, created_at=now + timedelta(seconds=n)))
    assert [j.job_id for j in await store.recent(10)] == ["hh_2", "hh_1", "hh_0"]
    assert [j.job_id for j in await store.recent(10, "completed")] == ["hh_2", "hh_0"]
    assert [j.job_id for j in await store.recent(1)] == ["hh_2"]


async def test_unfinished_lists_jobs_still_to_follow_oldest_first(store: Store) -> None:
    now = utcnow()
    for n, status in enumerate(["queued", "completed", "submitting", "unknown"]):
        await store.put(job(f"hh_{n}", status=status, created_at=now + timedelta(seconds=n)))
    assert [j.job_id for j in await store.unfinished()] == ["hh_0", "hh_2"]


async def test_a_put_replaces_the_record(store: Store) -> None:
    await store.put(job("hh_1"))
    await store.put(job("hh_1", status="completed", cost=0.7))
    stored = await store.get("hh_1")
    assert stored is not None
    assert (stored.status, stored.cost_usd) == ("completed", 0.7)
    assert await store.spend_since(None) == 0.7


MINE = Lease("process-a", 60.0)
THEIRS = Lease("process-b", 60.0)


async def test_a_write_from_an_older_version_is_refused_so_none_is_lost(store: Store) -> None:
    await store.put(job("hh_1"))
    read_by_a = await store.get("hh_1")
    read_by_b = await store.get("hh_1")
    assert read_by_a is not None
    assert read_by_b is not None
    written = await store.update(read_by_a.model_copy(update={"cancel_requested": True}))
    assert written is not None
    assert written.version == read_by_a.version + 1
    assert await store.update(read_by_b.model_copy(update={"status": "running"})) is None
    stored = await store.get("hh_1")
    assert stored is not None
    assert (stored.cancel_requested, stored.status, stored.version) == (True, "submitting", written.version)


async def test_only_the_lease_holder_may_write_as_the_follower(store: Store) -> None:
    admitted, _ = await store.admit(
        job("hh_1"),
        within_budget(1.4),
        day_start=start_of_day(),
        lease=MINE,
    )
    assert await store.update(admitted.model_copy(update={"status": "queued"}), holder=THEIRS.holder) is None
    written = await store.update(admitted.model_copy(update={"status": "queued"}), holder=MINE.holder)
    assert written is not None
    assert not await store.claim("hh_1", THEIRS), "a live lease is not taken over"
    assert await store.claim("hh_1", MINE), "its holder keeps it"


async def test_an_expired_lease_is_claimable_and_a_finished_job_releases_its_lease(store: Store) -> None:
    short = Lease("gone", -1.0)  # expired the moment it was taken
    admitted, _ = await store.admit(
        job("hh_1"),
        within_budget(1.4),
        day_start=start_of_day(),
        lease=short,
    )
    await store.admit(job("hh_2"), within_budget(0.1), day_start=start_of_day(), lease=MINE)
    assert [j.job_id for j in await store.claimable()] == ["hh_1"]
    assert await store.claim("hh_1", THEIRS)
    assert await store.renew(THEIRS, ["hh_1", "hh_2"]) == {"hh_1"}
    finished = await store.update(admitted.model_copy(update={"status": "completed"}), holder=THEIRS.holder)
    assert finished is not None
    assert await store.claimable() == []
    assert not await store.claim("hh_1", MINE), "a finished job is never followed again"


async def test_a_job_is_found_for_its_owner_and_for_the_server_and_for_nobody_else(store: Store) -> None:
    await admit(store, job("hh_1", owner="alice"))
    assert (await store.get("hh_1", "alice")) is not None
    assert (await store.get("hh_1")) is not None
    assert (await store.get("hh_1", "bob")) is None


async def test_one_idempotency_key_of_two_users_makes_two_jobs(store: Store) -> None:
    first, _ = await admit(store, job("hh_1", key="shot-1", owner="alice"))
    second, created = await admit(store, job("hh_2", key="shot-1", owner="bob"))
    assert created
    assert (first.job_id, second.job_id) == ("hh_1", "hh_2")
    assert (await store.by_idempotency_key("shot-1", "bob")) == second
    assert (await store.by_idempotency_key("shot-1", "carol")) is None


async def test_recent_and_spend_are_one_user_s_when_asked_for_one(store: Store) -> None:
    await admit(store, job("hh_1", cost=1.0, owner="alice"))
    await admit(store, job("hh_2", cost=0.5, owner="bob"))
    assert [j.job_id for j in await store.recent(owner="alice")] == ["hh_1"]
    assert len(await store.recent()) == 2
    day = start_of_day()
    assert (await store.spend_since(day, "bob"), await store.spend_since(day)) == (0.5, 1.5)


async def test_admission_is_told_what_the_user_and_the_deployment_committed_and_the_user_s_jobs_in_flight(
    store: JobStore,
) -> None:
    await admit(store, job("hh_1", cost=1.0, owner="alice"))
    await admit(store, job("hh_2", cost=0.5, owner="bob", status="completed"))
    seen: list[Committed] = []

    def record(committed: Committed) -> None:
        seen.append(committed)

    await store.admit(job("hh_3", owner="bob"), record, day_start=start_of_day())
    assert seen == [Committed(deployment_usd=1.5, user_usd=0.5, user_in_flight=0)]


async def test_a_user_s_sealed_fal_key_is_kept_replaced_and_deleted_for_that_user_only(store: Store) -> None:
    await store.put_fal_key("alice", SealedKey("k1", b"first"))
    await store.put_fal_key("alice", SealedKey("k2", b"second"))
    assert await store.fal_key("alice") == SealedKey("k2", b"second")
    assert await store.fal_key("bob") is None
    assert await store.delete_fal_key("bob") is False
    assert await store.delete_fal_key("alice") is True
    assert await store.fal_key("alice") is None


async def test_a_film_holds_the_price_of_its_shots_without_jobs_and_each_shot_job_then_counts_itself(
    store: JobStore,
) -> None:
    board = Storyboard(shots=[Shot(prompt="a", duration=5), Shot(prompt="b", duration=5)], resolution="720p")
    price = price_film(board)
    film = Job(
        job_id="hh_film",
        status="running",
        operation=FilmKind.FILM,
        endpoint=FILM_ENDPOINT,
        arguments=board.model_dump(mode="json"),
        cost_usd=price.usd,
        output={"film": FilmProgress.planned(board, price).model_dump(mode="json")},
    )
    admitted, created = await admit(store, film)
    assert created
    assert await store.spend_since(None) == price.usd, "the whole film, before any shot"

    await admit(store, job("hh_shot1", cost=price.shots[0].usd))
    progress = FilmProgress.planned(board, price)
    progress.shots[0] = progress.shots[0].model_copy(update={"job_id": "hh_shot1", "status": "queued"})
    written = await store.update(admitted.model_copy(update={"output": {"film": progress.model_dump(mode="json")}}))
    assert written is not None
    assert await store.spend_since(None) == price.usd, "the first shot moved from the film's reserve to its job"

    ended = await store.update(written.model_copy(update={"status": "failed"}))
    assert ended is not None
    assert await store.spend_since(None) == price.shots[0].usd, "an ended film holds nothing; its shot counts"


async def test_committed_reads_today_s_spend_for_everyone_and_the_user_and_the_user_s_jobs_in_flight(
    store: JobStore,
) -> None:
    await store.put(job("hh_a1", cost=1.0, status="completed", owner="alice"))
    await store.put(job("hh_a2", cost=0.5, status="running", owner="alice"))
    await store.put(job("hh_b1", cost=2.0, status="running", owner="bob"))
    await store.put(job("hh_old", cost=9.0, status="completed", owner="alice", created_at=utcnow() - timedelta(days=2)))
    committed = await store.committed("alice", day_start=start_of_day())
    assert committed == Committed(deployment_usd=3.5, user_usd=1.5, user_in_flight=1)
