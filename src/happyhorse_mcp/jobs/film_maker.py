"""Making a film once it is admitted: its shots, each an ordinary job, then its assembly here. No MCP here.

Shots that do not depend on each other run at once; a shot that continues the previous one waits for it and starts
from its last frame (extracted here, uploaded, then image-to-video). Each shot is admitted under a key derived from
the film, so after a crash the same shot is found again, never submitted twice. When every shot is done, the clips
are downloaded and assembled (media/assemble.py: one canvas, one loudness, cuts or crossfades), and the film saved
and uploaded to fal's storage (so any replica, host and player can fetch it, as a clip's video).

The film's record is followed like a job (leased, taken over by another process when its follower is gone), so a
restart resumes it: finished shots are kept, running ones followed, the assembly done again if it was cut off. A
shot that fails stops the film: nothing more is submitted, unfinished shots are cancelled, and what was billed is
said.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from ..domain.errors import FilmError, HappyHorseError, InvalidArgumentError, NoVideoYetError, error_type
from ..domain.film import FilmProgress, Storyboard
from ..domain.models import TERMINAL_STATUSES, Job, JobError, LocalCopy, utcnow
from ..fal.download import VideoDownloader, copy_into
from ..files.media import LocalFile, local_path
from ..observability.tracing import span
from .drafts import JobDraft
from .leases import LeaseLost
from .runner import JobRunner

if TYPE_CHECKING:
    from .accounts import FalAccounts
    from .store import JobStore

logger = logging.getLogger(__name__)

# How long one wait on a shot lasts before the film's driver looks again (a cancel wakes it sooner).
SHOT_WAIT_SECONDS = 30.0
FILM_FPS = 24


class FilmMaker:
    """Drives admitted films to their end on one runner."""

    def __init__(
        self,
        *,
        runner: JobRunner,
        store: JobStore,
        downloader: VideoDownloader,
        accounts: FalAccounts,
        work_dir: Path,
    ) -> None:
        self._runner = runner
        self._store = store
        self._downloader = downloader
        self._accounts = accounts
        self._work = work_dir
        self._locks: dict[str, anyio.Lock] = {}

    async def drive(self, film_id: str) -> None:
        """Make the film's shots, then assemble them; whatever happens ends the film, never the server."""
        try:
            await self._make(film_id)
        except LeaseLost:
            self._runner.live.drop(film_id)
        except HappyHorseError as exc:  # a download, an upload, the disk: said as it is
            with contextlib.suppress(LeaseLost):
                await self._finish(film_id, "failed", error=exc)
        except Exception as exc:  # a bug in one film must not take down the task group
            logger.exception("film %s: internal error", film_id)
            error = FilmError(
                f"Internal error while making the film ({type(exc).__name__}; the server's log has details). Its "
                "shots are listed with their jobs and costs."
            )
            try:
                await self._finish(film_id, "failed", error=error)
            except LeaseLost:
                self._runner.live.drop(film_id)
        finally:
            self._locks.pop(film_id, None)

    async def _make(self, film_id: str) -> None:
        film = self._runner.live.followed(film_id)
        board = Storyboard.model_validate(film.arguments)
        progress = _progress(film)
        if progress.phase == "shots":
            stop, errors = anyio.Event(), list[Exception]()
            async with anyio.create_task_group() as shots:
                for chain in _chains(board):
                    shots.start_soon(self._make_chain, film_id, board, chain, stop, errors)
            if errors:  # the first that stopped a run of shots (the others were told to stop)
                await self._cancel_unfinished(film_id)
                raise errors[0]
            if await self._cancel_asked(film_id):
                await self._finish(film_id, "cancelled")
                return
            progress = _progress(self._runner.live.followed(film_id))
            # The shot that stopped the film: one fal failed (or whose outcome is unknown), not one cancelled for it.
            unfinished = [shot for shot in progress.shots if shot.status != "completed"]
            failed = next((shot for shot in unfinished if shot.status in ("failed", "unknown")), None)
            failed = failed or next(iter(unfinished), None)
            if failed is not None:
                await self._stop(film_id, progress.shots.index(failed), failed.job_id)
                return
            await self._write(film_id, phase="assembling")
            # A cancel written before that phase is read here; one written after it finds the film being assembled,
            # and cancel_job says the film goes on: the two never cross.
            if await self._cancel_asked(film_id):
                await self._finish(film_id, "cancelled")
                return
        film = await self._runner.get(film_id)
        with span("film.assemble", film_id, resumed_from=film.trace, shots=len(board.shots)):
            await self._assemble(film_id, board)

    async def _make_chain(
        self, film_id: str, board: Storyboard, chain: list[int], stop: anyio.Event, errors: list[Exception]
    ) -> None:
        """Shots that follow one another (each continues the one before), made in turn. The first failure anywhere
        stops every run: nothing more is submitted."""
        for index in chain:
            if await self._stopping(film_id, stop):
                return
            try:
                job = await self._shot(film_id, board, index, stop)
            except Exception as exc:  # noqa: BLE001 - handed to the film's driver, which ends the film with it
                errors.append(exc)
                stop.set()
                return
            if job is None or job.status != "completed":
                stop.set()
                await self._cancel_unfinished(film_id)
                return

    async def _stopping(self, film_id: str, stop: anyio.Event) -> bool:
        """Whether no more shots are to be made: one failed (`stop`), or the film was cancelled."""
        return stop.is_set() or await self._cancel_asked(film_id)

    async def _cancel_asked(self, film_id: str) -> bool:
        """Whether the film was cancelled, here or through another process (which wrote it to the store)."""
        if self._runner.live.followed(film_id).cancel_requested:
            return True
        stored = await self._store.get(film_id)
        return stored is not None and stored.cancel_requested

    async def _shot(self, film_id: str, board: Storyboard, index: int, stop: anyio.Event) -> Job | None:
        """Shot `index`: its job, submitted unless it already has one, followed to its end; None when the film was
        stopped before it was submitted."""
        film = self._runner.live.followed(film_id)
        planned = _progress(film).shots[index]
        if planned.job_id is not None:
            job = await self._runner.get(planned.job_id)
        else:
            submitted = await self._submit_shot(film, board, index, stop)
            if submitted is None:
                return None
            job = submitted
            await self._write(film_id, shot=index, job=job)
            if not job.finished and await self._stopping(film_id, stop):
                # Stopped while this shot was on its way to fal, before the film's record named it: what cancelled
                # the other shots could not see it, so it is cancelled here.
                await self._cancel_shot(film_id, job.job_id)
        while not job.finished:
            job = await self._runner.wait(job.job_id, SHOT_WAIT_SECONDS)
        await self._write(film_id, shot=index, job=job)
        return job

    async def _submit_shot(self, film: Job, board: Storyboard, index: int, stop: anyio.Event) -> Job | None:
        """The shot's job, submitted; None when the film was stopped meanwhile (a last frame takes a while)."""
        own_key, storage = await self._accounts.account_for(film.owner)
        image_url = None
        if (previous := board.depends_on(index)) is not None:
            clip = await self._clip(film, board, previous)
            frame = self._work_dir(film.job_id) / f"last-frame-{previous + 1}.png"
            from ..media.frames import last_frame_png  # PyAV loads with the first film, not at start

            png = await anyio.to_thread.run_sync(last_frame_png, clip)
            await anyio.to_thread.run_sync(frame.write_bytes, png)
            image_url = await storage.upload(
                await anyio.to_thread.run_sync(_made_here, frame, "image_url", "image/png")
            )
        if await self._stopping(film.job_id, stop):
            return None
        spec = board.spec(index)
        price = _progress(film).shots[index].price_usd
        return await self._runner.submit(
            JobDraft(
                spec.operation,
                spec.endpoint(board.version),
                board.fal_arguments(index, image_url),
                price,
                owner=film.owner,
                # What identifies the shot: its arguments as planned, not the URL its last frame got at upload.
                sent_by_caller=board.fal_arguments(index),
                idempotency_key=f"{film.job_id}/shot-{index + 1}",
                own_fal_key=own_key,
                film_admitted_at=film.created_at,
            )
        )

    async def _cancel_unfinished(self, film_id: str) -> None:
        film = await self._runner.get(film_id)
        for shot in _progress(film).shots:
            if shot.job_id is not None and shot.status not in TERMINAL_STATUSES:
                await self._cancel_shot(film_id, shot.job_id)

    async def _cancel_shot(self, film_id: str, job_id: str) -> None:
        """Ask for a shot to be cancelled; one fal could not be asked about runs on, and the film waits for it."""
        try:
            await self._runner.cancel(job_id)
        except HappyHorseError as exc:
            logger.warning("film %s: cancel of shot %s failed: %s", film_id, job_id, exc.message)

    async def _stop(self, film_id: str, index: int, job_id: str | None) -> None:
        """The film ends with the failed shot's error, saying what was billed."""
        shot = await self._runner.get(job_id) if job_id is not None else None
        progress = _progress(self._runner.live.followed(film_id))
        if shot is None:
            reason = "it was never started"
        else:
            reason = shot.error.message if shot.error is not None else f"it ended {shot.status}"
        message = (
            f"Shot {index + 1} of {len(progress.shots)} did not finish ({reason}). The film was stopped: nothing more "
            f"was submitted and unfinished shots were cancelled. Billed for its shots: USD {progress.billed_usd:.2f}."
        )
        kind = shot.error.type if shot is not None and shot.error is not None else "film_stopped"
        status = "unknown" if shot is not None and shot.status == "unknown" else "failed"
        await self._finish(film_id, status, error=JobError(type=kind, message=message))

    async def _assemble(self, film_id: str, board: Storyboard) -> None:
        from ..media.assemble import Canvas, assemble  # PyAV loads with the first film, not at start

        film = self._runner.live.followed(film_id)
        clips = [await self._clip(film, board, index) for index in range(-1 if board.opening else 0, len(board.shots))]
        work = self._work_dir(film_id)
        canvas = await anyio.to_thread.run_sync(Canvas.of, clips[0], FILM_FPS)
        made = await anyio.to_thread.run_sync(
            functools.partial(
                assemble, clips, work / "film.mp4", canvas=canvas, crossfade_seconds=board.overlap_seconds
            )
        )
        # Assembling takes a while: a process that lost the film meanwhile leaves saving and uploading to its taker.
        self._runner.live.followed(film_id)
        destination = Path(film.save_path) if film.save_path else work / f"{film_id}.mp4"
        saved = await copy_into(made.path, destination)
        video = {
            "url": await self._published(film, made.path, saved.path),
            "content_type": "video/mp4",
            "file_name": saved.path.name,
            "file_size": saved.size,
            "width": canvas.width,
            "height": canvas.height,
            "duration": round(made.seconds, 3),
            "fps": float(canvas.fps),
            "num_frames": made.frames,
        }
        # Where each join is (the middle of a crossfade, or the cut), for review_video to look at.
        overlap, starts, joins = round(board.overlap_seconds * canvas.fps), 0, []
        for frames in made.shot_frames[:-1]:
            starts += frames - overlap
            joins.append(round((starts + overlap / 2) / canvas.fps, 3))
        progress = _progress(film).model_copy(update={"phase": "done", "joins_at_seconds": joins})
        await self._finish(
            film_id,
            "completed",
            output={"film": progress.model_dump(mode="json"), "video": video, "seed": board.seed},
            local_file=LocalCopy(path=str(saved.path), sha256=saved.sha256, size=saved.size),
            saved_identity=(saved.device, saved.inode),
        )
        fetched = [local_path(board.opening.url)] if board.opening and board.opening.fetched_from else []
        for made_here in (*work.glob("clip-*.mp4"), *work.glob("last-frame-*.png"), work / "film.mp4", *fetched):
            made_here.unlink(missing_ok=True)

    async def _published(self, film: Job, made: Path, saved: Path) -> str:
        """The film's URL: on fal's storage (a public URL, as fal's own outputs are), so that any replica, host and
        player can fetch it; its file here when the upload fails."""
        _, storage = await self._accounts.account_for(film.owner)
        try:
            return await storage.upload(await anyio.to_thread.run_sync(_made_here, made, "film", "video/mp4"))
        except HappyHorseError as exc:
            logger.warning("film %s: not uploaded to fal's storage (%s); served from here", film.job_id, exc.message)
            return saved.as_uri()

    async def _clip(self, film: Job, board: Storyboard, index: int) -> Path:
        """Clip `index` (-1: the opening video) on this machine: downloaded once into the film's work folder."""
        if index < 0:
            assert board.opening is not None
            url = board.opening.url
            if board.opening.fetched_from and not await anyio.to_thread.run_sync(local_path(url).exists):
                url = board.opening.fetched_from  # the copy fetched at the quote is gone: fetched again
        else:
            shot_id = _progress(film).shots[index].job_id
            shot = await self._runner.get(shot_id or "")
            if shot.video is None:
                raise NoVideoYetError(shot.job_id, shot.status)
            url = shot.video.url
        if url.startswith("file://"):
            return local_path(url)
        path = self._work_dir(film.job_id) / f"clip-{index + 1}.mp4"
        if not path.exists():
            path = (await self._downloader.save(url, path)).path
        return path

    def _work_dir(self, film_id: str) -> Path:
        folder = self._work / film_id
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder

    # -- the film's record ---------------------------------------------------------------------------------------

    async def _write(
        self, film_id: str, *, shot: int | None = None, job: Job | None = None, phase: str | None = None
    ) -> None:
        """Change the film's progress: shot `shot` is now `job` as it stands, or the film enters `phase`. One write at
        a time per film, each from the progress as last written."""
        async with self._locks.setdefault(film_id, anyio.Lock()):
            progress = _progress(self._runner.live.followed(film_id))
            if shot is not None and job is not None:
                progress.shots[shot] = progress.shots[shot].model_copy(
                    update={
                        "job_id": job.job_id,
                        "status": job.status,
                        "cost_usd": job.cost_usd if job.finished else None,
                    }
                )
            if phase is not None:
                progress = progress.model_copy(update={"phase": phase})
            await self._runner.live.update(film_id, output={"film": progress.model_dump(mode="json")})

    async def _finish(
        self, film_id: str, status: str, *, error: HappyHorseError | JobError | None = None, **changes: Any
    ) -> None:
        live = self._runner.live
        film = live.followed(film_id)
        progress = _progress(film)
        if status != "completed":
            changes["output"] = {"film": progress.model_copy(update={"phase": "stopped"}).model_dump(mode="json")}
        if isinstance(error, HappyHorseError):
            error = JobError(type=error_type(error), message=error.message)
        await live.update(
            film_id,
            status=status,
            finished_at=utcnow(),
            cost_usd=progress.billed_usd,
            error=error,
            **changes,
        )
        logger.info("film %s %s", film_id, status)
        if self._runner.billing is not None:
            self._runner.billing.film_ended(live.followed(film_id))
        if not live.is_unsaved(film_id):
            live.drop(film_id)


def _progress(film: Job) -> FilmProgress:
    progress = film.film
    if progress is None:
        raise InvalidArgumentError(f"Job {film.job_id} is not a film.")
    return progress


def _chains(board: Storyboard) -> list[list[int]]:
    """The shots in runs that must be made in turn: a shot that starts fresh, and those that continue it."""
    chains: list[list[int]] = []
    for index in range(len(board.shots)):
        if board.depends_on(index) is None or not chains:
            chains.append([index])
        else:
            chains[-1].append(index)
    return chains


def _made_here(path: Path, field: str, content_type: str) -> LocalFile:
    """A file this server made (a last frame, a film), described for fal's storage."""
    info = path.stat()
    return LocalFile(
        field=field,
        path=path,
        size=info.st_size,
        content_type=content_type,
        width=0,
        height=0,
        duration=None,
        device=info.st_dev,
        inode=info.st_ino,
    )
