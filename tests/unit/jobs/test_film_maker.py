"""How an admitted film is made, below MCP: shots that wait on nothing start at once, a continuing shot starts from
the previous shot's last frame, the shot fal refuses is the one the film names (not one cancelled because of it), and
a film resumed after a crash finds the shots it admitted before, one lost to another process while it is assembled is
left to that process, and a cancel or a refused shot reaches the shots on their way to fal; on the memory store
against the fake fal in-process, with its real clips."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import anyio
import pytest
from PIL import Image

from happyhorse_mcp.domain.errors import UpstreamError
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.jobs.films import Films
from happyhorse_mcp.jobs.generation import Places
from happyhorse_mcp.jobs.store.memory import MemoryJobStore
from happyhorse_mcp.media.frames import last_frame_png
from happyhorse_mcp.server.tools.jobs import film_cancel_summary

from ...fakefal import FakeFal
from ...fakefal.app import FakeJob, Fault
from ...support import Rig, runner_rig
from .test_films import LIMITS, PRICE, SHOTS, _films, _request

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> FakeFal:
    """The fake fal, making real clips (a continuing shot starts from one's last frame)."""
    made = FakeFal()
    made.real_clips = True
    return made


async def _started(rig: Rig, fake: FakeFal, tmp_path: Path) -> Job:
    """The storyboard's film, started, once the shots that wait on nothing (the first and third) reached fal."""
    films = _films(rig)
    film = await films.start(await films.quote(_request(), Places()))
    await fake.submitted(2)
    return film


async def _recorded(rig: Rig, film_id: str, statuses: list[str]) -> Job:
    """The film once its record shows its shots at `statuses`, woken at each change of the record."""
    with anyio.fail_after(30):
        while True:
            changed = rig.runner.live.changed(film_id)
            film = await rig.runner.get(film_id)
            if film.film and [shot.status for shot in film.film.shots] == statuses:
                return film
            assert changed is not None, "the film is followed here"
            await changed.wait()


def _held(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, picked: Callable[..., bool] = lambda *_, **__: True
) -> tuple[anyio.Event, anyio.Event]:
    """Calls of `owner.name` that `picked` chooses set the first event, then wait for the second."""
    entered, go_on = anyio.Event(), anyio.Event()
    real = getattr(owner, name)

    async def held(*args: Any, **kwargs: Any) -> Any:
        if picked(*args, **kwargs):
            entered.set()
            await go_on.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)
    return entered, go_on


async def _started_with_submits_held(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Films, Job, tuple[anyio.Event, anyio.Event]]:
    """The storyboard's film, started, with every submit to fal held (see `_held`) on its way."""
    held = _held(monkeypatch, rig.fal, "submit")
    films = _films(rig)
    return films, await films.start(await films.quote(_request(), Places())), held


def _submitted(fake: FakeFal, shot: int) -> FakeJob:
    """What fal received for shot `shot` of the storyboard."""
    return next(job for job in fake.submits if job.arguments["prompt"] == SHOTS[shot]["prompt"])


async def test_shots_that_wait_on_nothing_start_at_once_and_a_continuing_one_starts_from_the_last_frame(
    fake: FakeFal, tmp_path: Path
) -> None:
    fake.hold = True
    async with runner_rig(fake, MemoryJobStore(), LIMITS, data_dir=tmp_path) as rig:
        film = await _started(rig, fake, tmp_path)
        started = sorted(str(job.arguments["prompt"]) for job in fake.submits)
        assert started == sorted([str(SHOTS[0]["prompt"]), str(SHOTS[2]["prompt"])]), "the first and third at once"
        first = _submitted(fake, 0)
        fake.complete(first.request_id)
        await fake.submitted(3)
        for job in fake.submits[1:]:
            fake.complete(job.request_id)
        done = await rig.runner.wait(film.job_id, 60)  # the film ends before its runner stops
    assert done.status == "completed", done.error
    second = fake.submits[2]
    assert second.arguments["prompt"] == SHOTS[1]["prompt"]
    assert "image-to-video" in second.endpoint_id
    clip = tmp_path / "first.mp4"
    clip.write_bytes(fake.uploads[f"{first.request_id}/output.mp4"])
    sent = fake.uploads[second.arguments["image_url"].split("/files/", 1)[1]]
    with Image.open(BytesIO(sent)) as frame, Image.open(BytesIO(last_frame_png(clip))) as last:
        assert frame.tobytes() == last.tobytes()


async def test_the_film_names_the_shot_fal_refused_not_the_one_cancelled_because_of_it(
    fake: FakeFal, tmp_path: Path
) -> None:
    fake.hold = True
    async with runner_rig(fake, MemoryJobStore(), LIMITS, data_dir=tmp_path) as rig:
        film = await _started(rig, fake, tmp_path)
        third = _submitted(fake, 2)
        third.outcome = "content_policy"
        fake.complete(third.request_id)
        stopped = await rig.runner.wait(film.job_id, 30)
    assert stopped.status == "failed"
    assert stopped.error is not None
    assert stopped.error.type == "content_policy_violation"
    assert stopped.error.message.startswith("Shot 3 of 3 did not finish")
    assert stopped.film is not None
    assert [shot.status for shot in stopped.film.shots] == ["cancelled", "planned", "failed"]
    assert len(fake.submits) == 2, "the shot that continues the first was never submitted"
    assert stopped.cost_usd == 0


async def test_a_shot_admitted_before_a_crash_but_not_yet_in_the_film_s_record_is_found_not_paid_again(
    fake: FakeFal, tmp_path: Path
) -> None:
    fake.hold = True
    store = MemoryJobStore()
    async with runner_rig(fake, store, LIMITS, data_dir=tmp_path) as first:
        films = _films(first)
        film = await films.start(await films.quote(_request(), Places()))
        await _recorded(first, film.job_id, ["queued", "planned", "queued"])  # the first and third start at once
        holder = first.runner.lease.holder
    # The process died there. Its film's record is put back as it was before it recorded any shot: each shot's job
    # exists (admitted under the film's key for it), but the film does not know it.
    stored = await store.get(film.job_id)
    assert stored is not None
    assert stored.film is not None
    planned = [shot.model_copy(update={"job_id": None, "status": "planned"}) for shot in stored.film.shots]
    forgotten = stored.film.model_copy(update={"shots": planned})
    await store.put(stored.model_copy(update={"output": {"film": forgotten.model_dump(mode="json")}}))
    await store.release(holder)  # its leases lapse

    async with runner_rig(fake, store, LIMITS, data_dir=tmp_path) as second:
        _films(second)
        assert await second.runner.resume() == 3, "the film and its two shots are taken over"
        for job in fake.submits:
            fake.complete(job.request_id)
        await fake.submitted(3)  # the second shot starts once the first is done
        fake.complete(fake.submits[2].request_id)
        done = await second.runner.wait(film.job_id, 60)
    assert done.status == "completed", done.error
    assert len(fake.submits) == 3, "the shots admitted before the crash were found by their keys, not paid again"


async def test_a_film_fal_s_storage_will_not_take_is_served_from_the_server_that_made_it(
    fake: FakeFal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with runner_rig(fake, MemoryJobStore(), LIMITS, data_dir=tmp_path) as rig:
        upload = rig.storage.upload

        async def refuse_films(local: Any) -> str:
            if local.field == "film":
                raise UpstreamError("Uploading film.mp4 to fal failed (ConnectError); try again.")
            return await upload(local)

        monkeypatch.setattr(rig.storage, "upload", refuse_films)
        films = _films(rig)
        film = await films.start(await films.quote(_request(), Places()))
        done = await rig.runner.wait(film.job_id, 60)
    assert done.status == "completed", done.error
    assert done.video is not None
    assert done.local_file is not None
    assert done.video.url == Path(done.local_file.path).as_uri()


async def test_a_film_lost_to_another_process_while_it_is_assembled_is_neither_saved_nor_uploaded_here(
    fake: FakeFal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import happyhorse_mcp.media.assemble as assembling
    from happyhorse_mcp.jobs.film_maker import FilmMaker

    ended, uploaded = anyio.Event(), list[str]()
    drive = FilmMaker.drive

    async def driven(maker: FilmMaker, film_id: str) -> None:
        await drive(maker, film_id)
        ended.set()

    monkeypatch.setattr(FilmMaker, "drive", driven)
    async with runner_rig(fake, MemoryJobStore(), LIMITS, data_dir=tmp_path) as rig:
        assemble, upload = assembling.assemble, rig.storage.upload

        def lost_meanwhile(*args: Any, **kwargs: Any) -> Any:
            anyio.from_thread.run_sync(rig.runner.live.drop, film.job_id)  # the keeper found another process has it
            return assemble(*args, **kwargs)

        async def recorded(local: Any) -> str:
            uploaded.append(local.field)
            return await upload(local)

        monkeypatch.setattr(assembling, "assemble", lost_meanwhile)
        monkeypatch.setattr(rig.storage, "upload", recorded)
        films = _films(rig)
        film = await films.start(await films.quote(_request(), Places()))
        with anyio.fail_after(60):
            await ended.wait()
        stored = await rig.store.get(film.job_id)
    assert stored is not None
    assert not stored.finished, "the process that took it over ends it"
    assert "film" not in uploaded
    assert not (tmp_path / film.job_id / f"{film.job_id}.mp4").exists()


async def test_a_film_cancelled_while_a_shot_s_submit_is_on_its_way_to_fal_cancels_that_shot_too(
    fake: FakeFal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.hold = True
    async with runner_rig(fake, MemoryJobStore(), LIMITS, data_dir=tmp_path) as rig:
        films, film, (sending, go_on) = await _started_with_submits_held(rig, tmp_path, monkeypatch)
        with anyio.fail_after(30):
            await sending.wait()
            report = await films.cancel(film)
            assert report.shots == (), "no shot of the film's record had a job yet"
            go_on.set()
            done = await rig.runner.wait(film.job_id, 30)
    assert done.status == "cancelled"
    assert fake.submits, "the submits on their way reached fal"
    assert all(job.cancelled for job in fake.submits)


async def test_a_film_cancelled_while_a_continuing_shot_s_last_frame_is_uploaded_never_submits_that_shot(
    fake: FakeFal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.hold = True
    async with runner_rig(fake, MemoryJobStore(), LIMITS, data_dir=tmp_path) as rig:
        # The first shot's last frame, for the shot that continues it.
        uploading, go_on = _held(monkeypatch, rig.storage, "upload", lambda local: local.field == "image_url")
        film = await _started(rig, fake, tmp_path)
        fake.complete(_submitted(fake, 0).request_id)
        with anyio.fail_after(30):
            await uploading.wait()
            await _films(rig).cancel(film)
            go_on.set()
            done = await rig.runner.wait(film.job_id, 30)
    assert done.status == "cancelled"
    assert len(fake.submits) == 2, "the shot that continues the first was never submitted"
    assert _submitted(fake, 2).cancelled


async def test_a_shot_whose_submit_was_on_its_way_when_another_shot_was_refused_is_cancelled_not_paid(
    fake: FakeFal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.hold = True
    async with runner_rig(fake, MemoryJobStore(), LIMITS, data_dir=tmp_path) as rig:
        _, go_on = _held(
            monkeypatch, rig.fal, "submit", lambda _, arguments, **__: arguments["prompt"] == SHOTS[0]["prompt"]
        )
        films = _films(rig)
        film = await films.start(await films.quote(_request(), Places()))
        (third,) = await fake.submitted(1)
        third.outcome = "content_policy"
        fake.complete(third.request_id)
        await _recorded(rig, film.job_id, ["planned", "planned", "failed"])
        go_on.set()
        with anyio.fail_after(30):
            stopped = await rig.runner.wait(film.job_id, 30)
    assert stopped.status == "failed"
    assert stopped.error is not None
    assert stopped.error.message.startswith("Shot 3 of 3 did not finish")
    assert _submitted(fake, 0).cancelled, "the shot on its way reached fal and was cancelled there"
    assert stopped.cost_usd == 0


async def test_shots_on_their_way_whose_cancel_fal_cannot_take_run_on_and_the_film_still_ends_cancelled(
    fake: FakeFal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.hold = True
    async with runner_rig(fake, MemoryJobStore(), LIMITS, data_dir=tmp_path) as rig:
        fake.fail_next("cancel", Fault(status=503), times=10)  # fal cannot be asked to cancel
        films, film, (sending, go_on) = await _started_with_submits_held(rig, tmp_path, monkeypatch)
        with anyio.fail_after(30):
            await sending.wait()
            await films.cancel(film)
            go_on.set()
            for shot in await fake.submitted(2):
                fake.complete(shot.request_id)  # each runs on to its end
            done = await rig.runner.wait(film.job_id, 30)
    assert done.status == "cancelled", done.error
    assert len(fake.submits) == 2, "the shot that continues the first was never submitted"
    assert done.cost_usd == pytest.approx(PRICE.shots[0].usd + PRICE.shots[2].usd), "the two shots ran, billed"


async def test_a_cancel_written_while_the_film_enters_its_assembly_is_not_lost(
    fake: FakeFal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with runner_rig(fake, MemoryJobStore(), LIMITS, data_dir=tmp_path) as rig:
        live = rig.runner.live

        def assembling(_: str, **changes: Any) -> bool:
            return bool(changes.get("output", {}).get("film", {}).get("phase") == "assembling")

        entering, go_on = _held(monkeypatch, live, "update", assembling)
        films = _films(rig)
        film = await films.start(await films.quote(_request(), Places()))
        with anyio.fail_after(60):
            await entering.wait()  # every shot made; the film's next write says it is being assembled
            report = await films.cancel(film)
            go_on.set()
            done = await rig.runner.wait(film.job_id, 60)
    assert "is being cancelled" in film_cancel_summary(report.job, report.shots)
    assert done.status == "cancelled", "the cancel said it would stop the film"
