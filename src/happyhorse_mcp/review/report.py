"""review_video's answer: what the file is, how it sounds, and whether it is what was asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from ..domain.catalog import Operation
from ..domain.models import Job
from ..domain.uris import sheet_uri
from .analysis import VideoFacts
from .sheet import timestamp

# How far a made clip may be from what was asked and still match: fal rounds to whole frames and codec blocks.
DURATION_TOLERANCE_SECONDS = 0.5
SIDE_TOLERANCE_PIXELS = 8
ASPECT_TOLERANCE = 0.02
SHORT_SIDE = {"720p": 720, "1080p": 1080}

if TYPE_CHECKING:
    from ..media.joins import JoinFacts

Source = Literal["saved copy", "fal"]


class AudioReport(BaseModel):
    present: bool = Field(description="Whether the file has a sound track.")
    codec: str | None = None
    seconds: float | None = Field(default=None, description="Length of the sound track.")
    peak_dbfs: float | None = Field(default=None, description="Loudest sample, dB below full scale (0 is loudest).")
    mean_dbfs: float | None = Field(default=None, description="Mean level, dB below full scale.")
    silent: bool | None = Field(default=None, description="True when the peak is below -60 dBFS.")


class Check(BaseModel):
    name: Literal["duration", "resolution", "aspect_ratio"]
    asked: str
    made: str
    matches: bool


class JoinReport(BaseModel):
    """Where two shots of a film meet, as it looks and sounds."""

    at_seconds: float
    black: bool = Field(description="Black frames at the join.")
    silent: bool = Field(description="Silence at the join.")
    level_jump_lu: float | None = Field(description="Loudness after the join less before it (LU).")
    clean: bool = Field(description="No black, no silence, no jump of 6 LU or more.")


class VideoReview(BaseModel):
    """A finished job's video as it really is."""

    job_id: str
    source: Source = Field(description="Where the file was read from.")
    file_size_bytes: int
    duration_seconds: float
    fps: float
    width: int
    height: int
    codec: str
    audio: AudioReport
    frames_at_seconds: list[float] = Field(description="The moments on the contact sheet, in reading order.")
    checks: list[Check] = Field(description="What was asked against what was made.")
    matches_request: bool = Field(description="True when every check matches.")
    contact_sheet_uri: str = Field(description="The contact sheet (6 frames) as an image/jpeg resource.")
    joins: list[JoinReport] | None = Field(default=None, description="A film's joins, each looked at.")


def _checks(job: Job, facts: VideoFacts) -> list[Check]:
    asked = job.arguments
    checks = []
    duration = job.film.seconds if job.film is not None else asked.get("duration")
    if duration is not None and job.operation != Operation.VIDEO_EDIT:  # an edit lasts as long as its source
        made = facts.duration_seconds
        checks.append(
            Check(
                name="duration",
                asked=f"{duration} s",
                made=f"{made:.2f} s",
                matches=abs(made - float(duration)) <= DURATION_TOLERANCE_SECONDS,
            )
        )
    resolution = asked.get("resolution")
    if resolution in SHORT_SIDE:
        short = min(facts.width, facts.height)
        checks.append(
            Check(
                name="resolution",
                asked=str(resolution),
                made=f"{facts.width}x{facts.height}",
                matches=abs(short - SHORT_SIDE[resolution]) <= SIDE_TOLERANCE_PIXELS,
            )
        )
    ratio = asked.get("aspect_ratio")
    if isinstance(ratio, str) and ":" in ratio:
        wide, high = (float(part) for part in ratio.split(":", 1))
        made_ratio = facts.width / facts.height
        checks.append(
            Check(
                name="aspect_ratio",
                asked=ratio,
                made=f"{made_ratio:.3f} ({facts.width}:{facts.height})",
                matches=abs(made_ratio / (wide / high) - 1) <= ASPECT_TOLERANCE,
            )
        )
    return checks


def build_report(
    job: Job, facts: VideoFacts, *, source: Source, size: int, joins: list[JoinFacts] | None = None
) -> VideoReview:
    sound = facts.audio
    audio = (
        AudioReport(
            present=True,
            codec=sound.codec,
            seconds=sound.seconds,
            peak_dbfs=sound.peak_dbfs,
            mean_dbfs=sound.mean_dbfs,
            silent=sound.silent,
        )
        if sound is not None
        else AudioReport(present=False)
    )
    checks = _checks(job, facts)
    return VideoReview(
        job_id=job.job_id,
        source=source,
        file_size_bytes=size,
        duration_seconds=facts.duration_seconds,
        fps=facts.fps,
        width=facts.width,
        height=facts.height,
        codec=facts.codec,
        audio=audio,
        frames_at_seconds=[moment for moment, _ in facts.frames],
        checks=checks,
        matches_request=all(check.matches for check in checks),
        contact_sheet_uri=sheet_uri(job.job_id),
        joins=[
            JoinReport(
                at_seconds=join.at_seconds,
                black=join.black,
                silent=join.silent,
                level_jump_lu=join.level_jump_lu,
                clean=join.clean,
            )
            for join in joins
        ]
        if joins is not None
        else None,
    )


def _join_words(join: JoinReport) -> str:
    from ..media.joins import JUMP_LU  # PyAV loads with the first review, not at start

    if join.clean:
        return "clean"
    found = [word for word, seen in (("BLACK FRAMES", join.black), ("SILENCE", join.silent)) if seen]
    if join.level_jump_lu is not None and not join.clean and abs(join.level_jump_lu) >= JUMP_LU:
        found.append(f"LEVEL JUMP {join.level_jump_lu:+g} LU")
    return ", ".join(found)


def file_size(size: int) -> str:
    """A size as people read it: bytes, KB or MB (decimal), never "0.0 MB" for a small file."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.0f} KB"
    return f"{size / 1_000_000:.1f} MB"


def review_text(review: VideoReview) -> str:
    """The review in a few lines, for the model to read next to the contact sheet."""
    lines = [
        f"Job {review.job_id} ({review.source}): {review.duration_seconds:.2f} s, {review.width}x{review.height}, "
        f"{review.fps:g} fps, {review.codec}, {file_size(review.file_size_bytes)}."
    ]
    audio = review.audio
    if not audio.present:
        lines.append("Sound: none (the file has no sound track).")
    else:
        state = "silent" if audio.silent else "audible"
        lines.append(
            f"Sound: {audio.codec}, {audio.seconds:.1f} s, {state} (peak {audio.peak_dbfs:g} dBFS, mean "
            f"{audio.mean_dbfs:g} dBFS)."
        )
    if review.checks:
        said = "; ".join(
            f"{c.name} asked {c.asked}, made {c.made}: {'matches' if c.matches else 'DOES NOT MATCH'}"
            for c in review.checks
        )
        lines.append(f"Checks: {said}.")
    if review.joins:
        said = "; ".join(f"at {timestamp(j.at_seconds)} {_join_words(j)}" for j in review.joins)
        lines.append(f"Joins: {said}.")
    moments = ", ".join(timestamp(t) for t in review.frames_at_seconds)
    lines.append(f"The image shows {len(review.frames_at_seconds)} frames at {moments} (left to right, top to bottom).")
    return "\n".join(lines)
