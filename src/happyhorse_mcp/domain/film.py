"""A film as planned: a storyboard of 2-12 shots, what each shot is at fal, and one price for the whole before
anything is spent. Pure: the film's runner (submitting the shots, continuing from last frames, assembling) builds on
it.

Continuity: HappyHorse takes no last frame and no sound as input, so a shot marked `continue_from_previous` is made
by image-to-video from the previous shot's last frame; a shot with reference images by reference-to-video; any
other by text-to-video. The shared `style` (subject, look, light) is put before every shot's prompt, since each
call to fal is an independent render.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from .catalog import (
    IMAGE_TO_VIDEO,
    MAX_DURATION,
    MAX_REFERENCE_IMAGES,
    MIN_DURATION,
    REFERENCE_TO_VIDEO,
    TEXT_TO_VIDEO,
    OperationSpec,
    Resolution,
    Version,
)
from .pricing import CostEstimate, estimate

MIN_SHOTS, MAX_SHOTS = 2, 12
MIN_TRANSITION_SECONDS, MAX_TRANSITION_SECONDS = 0.2, 1.0


class Shot(BaseModel):
    prompt: Annotated[str, Field(min_length=1, max_length=2500)]
    duration: Annotated[int, Field(ge=MIN_DURATION, le=MAX_DURATION)] = 5
    continue_from_previous: bool = False
    reference_image_urls: Annotated[list[str], Field(min_length=1, max_length=MAX_REFERENCE_IMAGES)] | None = None

    @model_validator(mode="after")
    def _one_kind_of_start(self) -> Shot:
        if self.continue_from_previous and self.reference_image_urls:
            raise ValueError(
                "a shot that continues the previous one starts from its last frame, so it takes no reference images; "
                "put the subject in the style or the prompt"
            )
        return self


class Storyboard(BaseModel):
    shots: Annotated[list[Shot], Field(min_length=MIN_SHOTS, max_length=MAX_SHOTS)]
    style: Annotated[str, Field(max_length=1000)] | None = None
    transition: Literal["cut", "crossfade"] = "crossfade"
    transition_seconds: Annotated[float, Field(ge=MIN_TRANSITION_SECONDS, le=MAX_TRANSITION_SECONDS)] = 0.5
    version: Version = "1.0"
    resolution: Resolution = "1080p"

    @model_validator(mode="after")
    def _first_shot_starts_fresh(self) -> Storyboard:
        if self.shots[0].continue_from_previous:
            raise ValueError(
                "the first shot has no previous shot to continue: set continue_from_previous on a later one"
            )
        return self

    @property
    def overlap_seconds(self) -> float:
        """How much two joined shots overlap: a crossfade's length, nothing for a cut."""
        return self.transition_seconds if self.transition == "crossfade" else 0.0

    @property
    def seconds(self) -> float:
        """The finished film's length: the shots' lengths less one overlap per join."""
        return sum(shot.duration for shot in self.shots) - self.overlap_seconds * (len(self.shots) - 1)

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
        """The shot whose last frame shot `index` starts from, if any: until it is done, this one waits."""
        return index - 1 if self.shots[index].continue_from_previous else None


class FilmPrice(BaseModel):
    shots: list[CostEstimate] = Field(description="Each shot's price, in order.")
    usd: float = Field(description="The whole film: the shots' prices added, exact to the cent.")
    seconds: float = Field(description="The finished film's length, joins counted.")


def price_film(board: Storyboard) -> FilmPrice:
    """Every shot priced as the job it will be; raises InvalidArgumentError for a version a shot's operation lacks."""
    shots = [
        estimate(board.spec(index), duration=shot.duration, resolution=board.resolution, version=board.version)
        for index, shot in enumerate(board.shots)
    ]
    total = sum((Decimal(str(shot.usd)) for shot in shots), Decimal(0))
    return FilmPrice(shots=shots, usd=float(total), seconds=board.seconds)
