"""Films: a storyboard quoted whole, admitted once, then made shot by shot and assembled here. No MCP here.

1. `Films.quote` checks the storyboard's local files and where the film will be saved, prices every shot (the
   whole film is one price), finds the earlier film of a known `idempotency_key` and applies the spend limits to
   the whole film (the per-job limit to each shot).
2. `Films.start` uploads local reference images, admits the film's record (its whole price held against the
   budgets, atomically, as one job's is) and has jobs/film_maker.py make it: the shots, each an ordinary job, then
   the assembly. A film is followed like a job, so a restart or another process resumes it.
3. `Films.cancel` cancels a film's unfinished shots; the maker then ends it `cancelled`, saying what was billed.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from anyio.abc import TaskGroup
from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from ..domain.budget import Committed, Spend
from ..domain.catalog import CONTINUED_VIDEO_RULE, REFERENCE_TO_VIDEO, TEXT_TO_VIDEO, VIDEO_EDIT
from ..domain.errors import (
    IdempotencyConflictError,
    InvalidArgumentError,
    InvalidMediaError,
    NoVideoYetError,
)
from ..domain.film import FILM_ENDPOINT, FilmKind, FilmPrice, FilmProgress, Opening, Storyboard, price_film
from ..domain.models import TERMINAL_STATUSES, Job, TaskHandle
from ..domain.principal import LOCAL, Principal
from ..files.localfiles import MediaPlan
from ..files.media import check_local, is_local, local_path
from ..observability.tracing import current_traceparent
from .arguments import fingerprint, new_job_id
from .generation import CONTROL_ARGUMENTS, CallControls, Places, PricedCall, earlier_if_may_pay, upload_local_inputs

if TYPE_CHECKING:  # the runner and the downloader pull in the HTTP stack: the tools import this module at start
    from ..fal.download import VideoDownloader
    from ..fal.storage import FalStorage
    from .accounts import FalAccounts
    from .film_maker import FilmMaker
    from .runner import CancelReport, JobRunner
    from .spend import SpendGuard
    from .store import JobStore

logger = logging.getLogger(__name__)


# What make_film and extend_video say of the whole film, besides its shots.
FILM_SETTINGS = ("style", "transition", "transition_seconds", "version", "resolution", "aspect_ratio", "seed")


@dataclass(frozen=True)
class FilmRequest(CallControls):
    """One call of make_film or extend_video: the storyboard, who makes it, and the call's own controls.
    `source` is extend_video's video (a job id, a local path or a URL) before it is found."""

    kind: FilmKind
    board: Storyboard
    arguments: Mapping[str, Any]  # as the caller sent them: they identify a retry of the same key
    principal: Principal = LOCAL
    source: str | None = None
    source_is_job: bool = False

    @classmethod
    def of(cls, kind: FilmKind, arguments: Mapping[str, Any], principal: Principal = LOCAL) -> FilmRequest:
        """From a tool's arguments (as validated): make_film's storyboard, or extend_video's one shot continuing
        its source (whose video is found by `Films.quote`)."""
        given = to_jsonable_python(dict(arguments))
        whole = {name: given.get(name) for name in FILM_SETTINGS if given.get(name) is not None}
        source = None
        try:
            if kind == FilmKind.FILM:
                board = Storyboard.model_validate({**whole, "shots": given.get("shots")})
            else:
                named = [given[name] for name in ("job_id", "video_url") if given.get(name)]
                if len(named) != 1:
                    raise InvalidArgumentError(
                        "Invalid arguments: pass exactly one of job_id (a finished job of yours) and video_url (the "
                        "video to continue: a local path or fal's URL). Nothing was submitted."
                    )
                source = str(named[0]).strip()
                shot = {"prompt": given.get("prompt"), "duration": given.get("seconds"), "continue_from_previous": True}
                # The opening is a stand-in until Films.quote finds the video.
                board = Storyboard.model_validate({**whole, "shots": [shot], "opening": {"url": source, "seconds": 0}})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'storyboard'}: {e['msg']}" for e in exc.errors())
            raise InvalidArgumentError(f"Invalid storyboard: {problems}. Nothing was submitted.") from None
        return cls(kind, board, given, principal, source, source_is_job=bool(given.get("job_id")))

    def spend(self, price: FilmPrice) -> Spend:
        """What making the film at `price` asks to spend: its whole price, with its dearest shot for the per-job
        limit."""
        return Spend(
            price.usd,
            self.principal.user,
            max_cost_usd=self.max_cost_usd,
            largest_job_usd=max(shot.usd for shot in price.shots),
        )

    @property
    def identity(self) -> dict[str, Any]:
        """What makes two calls the same film: every argument but how long to wait, the key, the price cap and where
        to save it (as a clip's fal arguments do)."""
        return {name: value for name, value in self.arguments.items() if name not in CONTROL_ARGUMENTS}


@dataclass(frozen=True, kw_only=True)
class FilmQuote(PricedCall):
    request: FilmRequest
    board: Storyboard  # with extend_video's opening found
    price: FilmPrice
    # plan: local reference images (`shots.<i>.image_urls.<j>`) and where the film is saved

    @property
    def usd(self) -> float:
        return self.price.usd

    @property
    def question(self) -> str:
        """The whole price, shot by shot."""
        lines = [
            f"shot {i + 1}: {cost.seconds_billed} s {cost.operation}, USD {cost.usd:.2f}"
            for i, cost in enumerate(self.price.shots)
        ]
        what = "Continue the video" if self.request.kind == FilmKind.EXTENSION else "Make the film"
        return (
            f"{what} ({_shots(len(self.price.shots))}, about {self.price.seconds:g} s in all) for USD "
            f"{self.price.usd:.2f}? {'; '.join(lines)}. {self.board.resolution}, HappyHorse {self.board.version}. "
            f"USD {self.left_today:.2f} of today's budget is left."
        )


def _shots(count: int) -> str:
    return "1 new shot" if count == 1 else f"{count} new shots"


class Films:
    """Quote, start, drive, resume and cancel films on one runner."""

    def __init__(
        self,
        *,
        runner: JobRunner,
        store: JobStore,
        guard: SpendGuard,
        downloader: VideoDownloader,
        accounts: FalAccounts,
        work_dir: Path,
        task_group: TaskGroup,
        has_credentials: bool = True,
    ) -> None:
        self._runner = runner
        self._store = store
        self._guard = guard
        self._downloader = downloader
        self._accounts = accounts
        self._work = work_dir
        self._tg = task_group
        self._has_credentials = has_credentials
        self._made: FilmMaker | None = None
        self._fetching: dict[str, anyio.Lock] = {}  # one source fetched at a time per user

    @property
    def _maker(self) -> FilmMaker:
        """What makes films once admitted, loaded with the first film (a start that makes none never imports it)."""
        if self._made is None:
            from .film_maker import FilmMaker

            self._made = FilmMaker(
                runner=self._runner,
                store=self._store,
                downloader=self._downloader,
                accounts=self._accounts,
                work_dir=self._work,
            )
        return self._made

    # -- quote and start -----------------------------------------------------------------------------------------

    async def quote(self, request: FilmRequest, places: Places) -> FilmQuote:
        owner = request.principal.user
        earlier = await earlier_if_may_pay(
            request.principal,
            request.idempotency_key,
            runner=self._runner,
            has_credentials=self._has_credentials,
            accounts=self._accounts,
        )
        board = request.board
        if earlier is not None:  # a retry pays nothing: its files are not looked at, nor its video fetched, again
            return FilmQuote(
                request=request,
                board=board,
                price=price_film(board),
                plan=MediaPlan(),
                limits=self._guard.limits,
                committed=Committed(),
                earlier=earlier,
            )
        plan = await anyio.to_thread.run_sync(functools.partial(_plan_media, board, request, places))
        # The price is the new shots' alone, whatever the source's length: what the budget cannot pay is refused
        # before anything is fetched.
        price = price_film(board)
        committed = await self._guard.check(request.spend(price))
        if request.source is not None:
            board = board.model_copy(
                update={"opening": await self._opening(request.source, request.source_is_job, owner, plan)}
            )
            price = price_film(board)
        return FilmQuote(
            request=request, board=board, price=price, plan=plan, limits=self._guard.limits, committed=committed
        )

    async def _opening(self, source: str, request_is_job: bool, owner: str, plan: MediaPlan) -> Opening:
        """extend_video's video: a finished job of the caller's, a checked local file, or a URL."""
        if (local := plan.local.get("video_url")) is not None:
            return Opening(url=local.path.as_uri(), seconds=local.duration or 0.0)
        if request_is_job:
            job = await self._runner.get(source, owner)
            if job.video is None:
                raise NoVideoYetError(job.job_id, job.status)
            return Opening(url=job.video.url, seconds=job.video.duration or 0.0, job_id=job.job_id)
        # A URL is fetched now, once the budget could pay (free, before anyone is asked to pay): its length plans the
        # film. The copy is measured and removed: a price refused or a question never answered leaves nothing here.
        # The film fetches it again once admitted (`start`). One fetch at a time per user bounds what anyone can make
        # this server download (each at most HAPPYHORSE_MAX_DOWNLOAD_MB).
        self._downloader.check_url(source)
        folder = await self._sources()
        measured = folder / f"measuring-{uuid.uuid4().hex}.mp4"
        async with self._fetching.setdefault(owner, anyio.Lock()):
            try:
                await self._downloader.save(source, measured)
                # The rules a local source obeys (size, frame, length), read from its headers before any frame is
                # decoded: a URL may hold a 16000x16000 video whose every frame is hundreds of MB.
                checked = await anyio.to_thread.run_sync(
                    check_local, "video_url", str(measured), [folder], CONTINUED_VIDEO_RULE
                )
            except InvalidMediaError as exc:
                said = exc.message.replace(repr(str(measured)), repr(source))
                raise InvalidMediaError(f"{said} Nothing was submitted.") from None
            finally:
                await anyio.to_thread.run_sync(functools.partial(measured.unlink, missing_ok=True))
        seconds = checked.duration or 0.0
        return Opening(url=source, seconds=seconds, fetched_from=source)

    async def _sources(self) -> Path:
        folder = self._work / "sources"
        await anyio.to_thread.run_sync(functools.partial(folder.mkdir, parents=True, exist_ok=True, mode=0o700))
        return folder

    async def _fetched(self, board: Storyboard) -> Storyboard:
        """extend_video's URL source, fetched once the film is admitted: the copy it continues and is joined to."""
        opening = board.opening
        if opening is None or opening.fetched_from is None or opening.url != opening.fetched_from:
            return board
        kept = await self._sources() / f"{uuid.uuid4().hex}.mp4"
        await self._downloader.save(opening.fetched_from, kept)
        return board.model_copy(update={"opening": opening.model_copy(update={"url": kept.as_uri()})})

    async def start(self, quote: FilmQuote, *, task: TaskHandle | None = None) -> Job:
        """Upload the storyboard's local images, admit the film (its whole price held against the budgets) and
        start making it; returns its record (or the earlier film of a known key, with nothing paid)."""
        request, owner = quote.request, quote.request.principal.user
        identity = fingerprint(FILM_ENDPOINT, request.identity)
        if quote.earlier is not None:
            return self._same_call(quote.earlier, identity, request.idempotency_key)
        own_key, storage = await self._accounts.account_for(owner)
        board = await self._fetched(await _uploaded(storage, quote.board, quote.plan))
        film_id = new_job_id()
        save_to = quote.plan.save_to
        if save_to is not None and save_to.suffix.lower() != ".mp4":
            save_to = save_to / f"{film_id}.mp4"
        draft = Job(
            job_id=film_id,
            owner=owner,
            own_fal_key=own_key,
            status="running",
            operation=request.kind,
            endpoint=FILM_ENDPOINT,
            arguments=board.model_dump(mode="json", exclude_none=True),
            fingerprint=identity,
            cost_usd=quote.price.usd,
            idempotency_key=request.idempotency_key,
            save_path=str(save_to) if save_to else None,
            task=task,
            output={"film": FilmProgress.planned(board, quote.price).model_dump(mode="json")},
            sandbox=self._runner.sandbox,
            trace=current_traceparent(),
        )
        runner = self._runner
        runner.leases.keep()
        try:
            job, created = await self._guard.admit(draft, request.spend(quote.price), lease=runner.lease)
        except BaseException:
            await _drop_fetched(board)
            raise
        if not created:  # the same key, admitted meanwhile by a call that raced this one
            await _drop_fetched(board)
            return self._same_call(job, identity, request.idempotency_key)
        await runner.live.publish(job)
        self._tg.start_soon(self._maker.drive, film_id)
        return job

    def _same_call(self, earlier: Job, identity: str, key: str | None) -> Job:
        if earlier.fingerprint != identity:
            raise IdempotencyConflictError(key or "", earlier.job_id)
        return earlier

    async def take_over(self, film: Job) -> bool:
        """A film whose follower is gone, now leased here (the runner added it to its live jobs): made on."""
        logger.info("making film %s on, whose follower is gone", film.job_id)
        self._tg.start_soon(self._maker.drive, film.job_id)
        return True

    # -- cancel --------------------------------------------------------------------------------------------------

    async def cancel(self, film: Job) -> CancelReport:
        """Record the cancel, then cancel every unfinished shot; the driver ends the film `cancelled` once they have
        ended (finished shots stay billed, and the film says so)."""
        written = await self._runner.record_cancel(film.job_id)
        progress = written.film
        asked = []
        for shot in progress.shots if progress is not None and not written.finished else []:
            if shot.job_id is not None and shot.status not in TERMINAL_STATUSES:
                await self._runner.cancel(shot.job_id)
                asked.append(shot.job_id)
        from .runner import CancelReport

        return CancelReport(await self._runner.get(film.job_id), shots=tuple(asked))


async def _drop_fetched(board: Storyboard) -> None:
    """A fetched source's copy, removed when its film was not admitted."""
    if board.opening is not None and board.opening.fetched_from and board.opening.url.startswith("file:"):
        await anyio.to_thread.run_sync(functools.partial(local_path(board.opening.url).unlink, missing_ok=True))


def _plan_media(board: Storyboard, request: FilmRequest, places: Places) -> MediaPlan:
    """Check every local file the call names (reference images, extend_video's video) and where the film is saved
    (blocking)."""

    plan = places.plan
    whole = plan(TEXT_TO_VIDEO, {"save_to": request.arguments.get("save_to")})
    for index, shot in enumerate(board.shots):
        if shot.reference_image_urls:
            try:
                named = plan(REFERENCE_TO_VIDEO, {"image_urls": shot.reference_image_urls, "version": board.version})
            except InvalidMediaError as exc:  # named as the caller named it
                where = f"shots.{index}.reference_image_urls."
                raise InvalidMediaError(exc.message.replace("image_urls.", where, 1)) from exc
            whole.local |= {f"shots.{index}.{name}": local for name, local in named.local.items()}
    if request.source is not None and is_local(request.source):
        whole.local |= plan(VIDEO_EDIT, {"video_url": request.source}).local
    return whole


async def _uploaded(storage: FalStorage, board: Storyboard, plan: MediaPlan) -> Storyboard:
    """The storyboard with each checked local reference image replaced by the URL fal storage gave it."""
    shots = []
    for index, shot in enumerate(board.shots):
        mine = {
            name.split(".", 2)[2]: local for name, local in plan.local.items() if name.startswith(f"shots.{index}.")
        }
        if not mine or not shot.reference_image_urls:
            shots.append(shot)
            continue
        sent = await upload_local_inputs(storage, MediaPlan(local=mine), {"image_urls": shot.reference_image_urls})
        shots.append(shot.model_copy(update={"reference_image_urls": sent["image_urls"]}))
    return board.model_copy(update={"shots": shots})
