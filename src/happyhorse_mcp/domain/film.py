"""A film as planned: a storyboard of 2-12 shots, what each shot is at fal, and one price for the whole before
anything is spent. Pure: the film's runner (submitting the shots, continuing from last frames, assembling) builds on
it.

A film is one job of this server (its record lists its shots, `FilmProgress`); each shot is a job of its own, with
its own record, price and fal request. `extend_video` is a film that opens with a finished video and has one shot.

Continuity: HappyHorse takes no last frame and no sound as input, so a shot marked `continue_from_previous` is made
by image-to-video from the previous shot's last frame; a shot with reference images by reference-to-video; any
other by text-to-video. The shared `style` (subject, look, light) is put before every shot's prompt, since each
call to fal is an independent render.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from .arguments import MediaUrl, Text
from .catalog import (
    DEFAULT_VERSION,
    IMAGE_TO_VIDEO,
    MAX_DURATION,
    MAX_REFERENCE_IMAGES,
    MIN_DURATION,
    REFERENCE_TO_VIDEO,
    SPECS,
    TEXT_TO_VIDEO,
    AspectRatio,
    OperationSpec,
    Resolution,
    Version,
    check_aspect_ratio,
)
from .pricing import CostEstimate, estimate

MIN_SHOTS, MAX_SHOTS = 2, 12
MIN_TRANSITION_SECONDS, MAX_TRANSITION_SECONDS = 0.2, 1.0
FILM_ENDPOINT = "happyhorse-mcp/film"  # what a film's record names as its endpoint: it runs here, its shots at fal


class FilmKind(StrEnum):
    """What a film job is: a storyboard (`make_film`) or a finished video continued (`extend_video`)."""

    FILM = "film"
    EXTENSION = "extend-video"


FILM_TOOLS: dict[FilmKind, str] = {FilmKind.FILM: "make_film", FilmKind.EXTENSION: "extend_video"}
# Every tool that spends money: the front door asks for the generate scope on these, and they can become MCP tasks.
SPENDING_TOOLS = frozenset({*(spec.tool for spec in SPECS.values()), *FILM_TOOLS.values()})


class Shot(BaseModel):
    # The rules of the clip tool each shot becomes (domain/arguments.py): the same types, the same refusals.
    prompt: Text
    duration: Annotated[int, Field(ge=MIN_DURATION, le=MAX_DURATION)] = 5
    continue_from_previous: bool = False
    reference_image_urls: Annotated[list[MediaUrl], Field(min_length=1, max_length=MAX_REFERENCE_IMAGES)] | None = None

    @model_validator(mode="after")
    def _one_kind_of_start(self) -> Shot:
        if self.continue_from_previous and self.reference_image_urls:
            raise ValueError(
                "a shot that continues the previous one starts from its last frame, so it takes no reference images; "
                "put the subject in the style or the prompt"
            )
        return self


class Opening(BaseModel):
    """A finished video the film begins with (`extend_video`): it is not made again, only joined to."""

    url: str = Field(description="Where the video is: fal's URL, or a file:// URL on this machine.")
    seconds: float
    job_id: str | None = Field(default=None, description="The job that made it, when it was one of this server's.")
    fetched_from: str | None = Field(default=None, description="The URL a copy kept here was fetched from.")


class Storyboard(BaseModel):
    shots: Annotated[list[Shot], Field(min_length=1, max_length=MAX_SHOTS)]
    style: Annotated[str, Field(max_length=1000)] | None = None
    transition: Literal["cut", "crossfade"] = "crossfade"
    transition_seconds: Annotated[float, Field(ge=MIN_TRANSITION_SECONDS, le=MAX_TRANSITION_SECONDS)] = 0.5
    version: Version = DEFAULT_VERSION
    resolution: Resolution = "1080p"
    aspect_ratio: AspectRatio = "16:9"
    seed: int | None = None
    opening: Opening | None = None

    @model_validator(mode="after")
    def _first_shot_starts_fresh(self) -> Storyboard:
        if self.opening is None and len(self.shots) < MIN_SHOTS:
            raise ValueError(f"a film needs at least {MIN_SHOTS} shots (to continue one clip, use extend_video)")
        if self.opening is None and self.shots[0].continue_from_previous:
            raise ValueError(
                "the first shot has no previous shot to continue: set continue_from_previous on a later one"
            )
        return self

    @property
    def parts(self) -> int:
        """How many clips the film joins: the opening video, if any, and the shots."""
        return len(self.shots) + (self.opening is not None)

    @property
    def overlap_seconds(self) -> float:
        """How much two joined shots overlap: a crossfade's length, nothing for a cut."""
        return self.transition_seconds if self.transition == "crossfade" else 0.0

    @property
    def seconds(self) -> float:
        """The finished film's length: the clips' lengths less one overlap per join."""
        opening = self.opening.seconds if self.opening is not None else 0.0
        return opening + sum(shot.duration for shot in self.shots) - self.overlap_seconds * (self.parts - 1)

    def spec(self, index: int) -> OperationSpec:
        """What shot `index` is at fal."""
        shot = self.shots[index]
        if shot.continue_from_previous:
            return IMAGE_TO_VIDEO
        return REFERENCE_TO_VIDEO if shot.reference_image_urls else TEXT_TO_VIDEO

    def prompt(self, index: int) -> str:
        """Shot `index`'s prompt as sent: the shared style first."""
        prompt = self.shots[index].prompt.strip()
        return f"{self.style.strip()}\n\n{prompt}" if self.style and self.style.strip() else prompt

    def depends_on(self, index: int) -> int | None:
        """The shot whose last frame shot `index` starts from, if any: until it is done, this one waits. The
        opening video is -1: it is there from the start."""
        return index - 1 if self.shots[index].continue_from_previous else None

    def fal_arguments(self, index: int, image_url: str | None = None) -> dict[str, object]:
        """What fal is sent for shot `index`; `image_url` is the previous clip's last frame, for a shot that
        continues it."""
        shot, spec = self.shots[index], self.spec(index)
        given: dict[str, object] = {
            "prompt": self.prompt(index),
            "duration": shot.duration,
            "resolution": self.resolution,
            "seed": self.seed,
            "aspect_ratio": self.aspect_ratio,
            "image_url": image_url,
            "image_urls": shot.reference_image_urls,
        }
        return {name: given[name] for name in spec.fal_arguments if given.get(name) is not None}


class FilmPrice(BaseModel):
    shots: list[CostEstimate] = Field(description="Each shot's price, in order.")
    usd: float = Field(description="The whole film: the shots' prices added, exact to the cent.")
    seconds: float = Field(description="The finished film's length, joins counted.")


def price_film(board: Storyboard) -> FilmPrice:
    """Every shot priced as the job it will be; raises InvalidArgumentError for a version a shot's operation lacks
    or an aspect ratio the version lacks."""
    if any(board.spec(i).has_aspect_ratio for i in range(len(board.shots))):
        check_aspect_ratio(board.version, board.aspect_ratio)
    shots = [
        estimate(board.spec(index), duration=shot.duration, resolution=board.resolution, version=board.version)
        for index, shot in enumerate(board.shots)
    ]
    total = sum((Decimal(str(shot.usd)) for shot in shots), Decimal(0))
    return FilmPrice(shots=shots, usd=float(total), seconds=board.seconds)


ShotStatus = Literal["planned", "submitting", "queued", "running", "completed", "failed", "cancelled", "unknown"]
FilmPhase = Literal["shots", "assembling", "done", "stopped"]


class FilmShot(BaseModel):
    """One shot of a film as it goes: its job, once it has one, and what it costs."""

    job_id: str | None = Field(default=None, description="The shot's own job (get_job works on it).")
    status: ShotStatus = "planned"
    price_usd: float = Field(description="Its price as quoted.")
    cost_usd: float | None = Field(default=None, description="What it cost, once finished (0 for a failed shot).")
    seconds: int = Field(description="Its planned length.")


class FilmProgress(BaseModel):
    """Where a film is: its shots, then the assembly."""

    phase: FilmPhase = "shots"
    shots: list[FilmShot]
    seconds: float = Field(description="The film's planned length (the video says how long it came out).")
    transition: str = Field(description="cut, or a crossfade of so many seconds.")
    joins_at_seconds: list[float] = Field(default=[], description="Where the shots meet in the finished film.")

    @classmethod
    def planned(cls, board: Storyboard, price: FilmPrice) -> FilmProgress:
        shots = [
            FilmShot(price_usd=cost.usd, seconds=shot.duration)
            for shot, cost in zip(board.shots, price.shots, strict=True)
        ]
        transition = "cut" if board.transition == "cut" else f"crossfade {board.transition_seconds:g} s"
        return cls(shots=shots, seconds=board.seconds, transition=transition)

    @property
    def reserved_usd(self) -> float:
        """What the film still holds of the budget: the price of each shot that has no job yet (a shot's job counts
        its own cost once it exists)."""
        return float(sum((Decimal(str(s.price_usd)) for s in self.shots if s.job_id is None), Decimal(0)))

    @property
    def billed_usd(self) -> float:
        """What the shots cost, as far as known: finished shots' costs, unfinished ones' prices."""
        costs = (s.cost_usd if s.cost_usd is not None else s.price_usd for s in self.shots if s.job_id is not None)
        return float(sum((Decimal(str(c)) for c in costs), Decimal(0)))

    @property
    def done_count(self) -> int:
        return sum(s.status == "completed" for s in self.shots)
