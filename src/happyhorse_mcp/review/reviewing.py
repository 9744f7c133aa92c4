"""Reviewing a job's video: read the saved copy when it is still the file written, else stream fal's copy into a
temporary file (same host allow-list, size cap and time limit as downloads) that is gone when the review is."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import anyio
import anyio.to_thread

from ..domain.errors import DownloadError, NoVideoYetError
from ..domain.models import Job
from ..files.saved_copy import open_saved_copy
from ..media.joins import join_facts
from ..observability.tracing import span
from .analysis import analyse
from .report import Source, VideoReview, build_report
from .sheet import contact_sheet

if TYPE_CHECKING:
    from ..fal.download import VideoDownloader


@asynccontextmanager
async def _video_file(job: Job, downloader: VideoDownloader) -> AsyncIterator[tuple[BinaryIO, Source]]:
    video = job.video
    if video is None:
        raise NoVideoYetError(job.job_id, job.status)
    if job.local_file is not None and job.saved_identity is not None:
        saved = await anyio.to_thread.run_sync(open_saved_copy, Path(job.local_file.path), job.saved_identity)
        if saved is not None:
            with saved:
                yield saved, "saved copy"
            return
    # An unnamed temporary file: removed by the system once closed, even if the server dies mid-review.
    with tempfile.TemporaryFile(prefix="happyhorse-review-") as temporary:
        try:
            await downloader.fetch_into(video.url, temporary.fileno())
        except DownloadError as exc:
            raise DownloadError(
                f"The video of job {job.job_id} could not be fetched from {video.url}: {exc.message} fal keeps "
                "outputs for a limited time; a job saved with save_to (or HAPPYHORSE_OUTPUT_DIR) keeps its own copy."
            ) from exc
        except OSError as exc:
            raise DownloadError(f"The video could not be written to a temporary file ({exc.strerror}).") from exc
        temporary.seek(0)
        yield temporary, "fal"


# Reviews decode on worker threads, each up to a few hundred MB for the largest frames allowed: one at a time, so
# three calls at once cannot triple the peak (they wait their turn instead).
_REVIEWS_AT_ONCE = 1
_limiter: anyio.CapacityLimiter | None = None


def _reviews() -> anyio.CapacityLimiter:
    global _limiter  # made on first use, inside the event loop
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(_REVIEWS_AT_ONCE)
    return _limiter


async def review_job(
    job: Job, downloader: VideoDownloader, *, count: int, at_seconds: list[float] | None
) -> tuple[VideoReview, bytes]:
    """The review of a finished job and its contact sheet (JPEG)."""
    with span("review.video", job.job_id, frames=count):
        return await _reviewed(job, downloader, count=count, at_seconds=at_seconds)


async def _reviewed(
    job: Job, downloader: VideoDownloader, *, count: int, at_seconds: list[float] | None
) -> tuple[VideoReview, bytes]:
    film = job.film
    joins = None
    async with _reviews(), _video_file(job, downloader) as (file, source):
        size = os.fstat(file.fileno()).st_size
        facts = await anyio.to_thread.run_sync(functools.partial(analyse, file, count=count, at_seconds=at_seconds))
        if film is not None and film.joins_at_seconds:  # the same open file, saved copy or fal's, read again
            joins = await anyio.to_thread.run_sync(join_facts, file, film.joins_at_seconds)
    sheet = await anyio.to_thread.run_sync(contact_sheet, facts.frames)
    return build_report(job, facts, source=source, size=size, joins=joins), sheet
