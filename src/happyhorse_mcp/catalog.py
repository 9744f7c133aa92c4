"""What HappyHorse on fal offers: operations, endpoint ids, input limits and prices, each in one table.

Sources: fal's model pages for alibaba/happy-horse (llms.txt and /api), gathered 2026-11. A change at fal is a
one-line change here.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Final, Literal

Version = Literal["1.0", "1.1"]
Resolution = Literal["720p", "1080p"]
AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21", "5:4", "4:5"]
AudioSetting = Literal["auto", "origin"]


class Operation(StrEnum):
    TEXT_TO_VIDEO = "text-to-video"
    IMAGE_TO_VIDEO = "image-to-video"
    REFERENCE_TO_VIDEO = "reference-to-video"
    VIDEO_EDIT = "video-edit"


TOOL_OPERATIONS: Final[dict[str, Operation]] = {
    "generate_video": Operation.TEXT_TO_VIDEO,
    "image_to_video": Operation.IMAGE_TO_VIDEO,
    "reference_to_video": Operation.REFERENCE_TO_VIDEO,
    "edit_video": Operation.VIDEO_EDIT,
}

ENDPOINTS: Final[dict[tuple[Operation, Version], str]] = {
    (Operation.TEXT_TO_VIDEO, "1.0"): "alibaba/happy-horse/text-to-video",
    (Operation.IMAGE_TO_VIDEO, "1.0"): "alibaba/happy-horse/image-to-video",
    (Operation.REFERENCE_TO_VIDEO, "1.0"): "alibaba/happy-horse/reference-to-video",
    (Operation.VIDEO_EDIT, "1.0"): "alibaba/happy-horse/video-edit",
    (Operation.TEXT_TO_VIDEO, "1.1"): "alibaba/happy-horse/v1.1/text-to-video",
    (Operation.IMAGE_TO_VIDEO, "1.1"): "alibaba/happy-horse/v1.1/image-to-video",
    (Operation.REFERENCE_TO_VIDEO, "1.1"): "alibaba/happy-horse/v1.1/reference-to-video",
}

VERSIONS: Final[tuple[Version, ...]] = ("1.0", "1.1")
RESOLUTIONS: Final[tuple[Resolution, ...]] = ("720p", "1080p")
ASPECT_RATIOS: Final[dict[Version, tuple[AspectRatio, ...]]] = {
    "1.0": ("16:9", "9:16", "1:1", "4:3", "3:4"),
    "1.1": ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21", "5:4", "4:5"),
}

MIN_DURATION: Final = 3
MAX_DURATION: Final = 15
MAX_PROMPT_CHARS: Final = 2500
MAX_SEED: Final = 2_147_483_647
MAX_REFERENCE_IMAGES: Final = 9
MAX_EDIT_REFERENCE_IMAGES: Final = 5
MIN_EDIT_SOURCE_SECONDS: Final = 3
MAX_EDIT_SOURCE_SECONDS: Final = 60
# The edited video keeps the source's duration, capped at this many seconds.
MAX_EDIT_OUTPUT_SECONDS: Final = 15

PRICES_AS_OF: Final = "2026-11"
GENERATION_OPERATIONS: Final = (Operation.TEXT_TO_VIDEO, Operation.IMAGE_TO_VIDEO, Operation.REFERENCE_TO_VIDEO)
# USD per second of output video.
_GENERATION_RATES: Final[dict[tuple[Version, Resolution], Decimal]] = {
    ("1.0", "720p"): Decimal("0.14"),
    ("1.0", "1080p"): Decimal("0.28"),
    ("1.1", "720p"): Decimal("0.14"),
    ("1.1", "1080p"): Decimal("0.18"),
}
# Video edit: USD per second of the source video, and again per second of the output.
_EDIT_RATES: Final[dict[tuple[Version, Resolution], Decimal]] = {
    ("1.0", "720p"): Decimal("0.14"),
    ("1.0", "1080p"): Decimal("0.28"),
}
PRICE_PER_SECOND: Final[dict[tuple[Operation, Version, Resolution], Decimal]] = {
    **{(op, v, r): rate for op in GENERATION_OPERATIONS for (v, r), rate in _GENERATION_RATES.items()},
    **{(Operation.VIDEO_EDIT, v, r): rate for (v, r), rate in _EDIT_RATES.items()},
}


class UnsupportedVersionError(ValueError):
    def __init__(self, operation: Operation, version: str) -> None:
        offered = ", ".join(v for v in VERSIONS if (operation, v) in ENDPOINTS)
        super().__init__(f"version '{version}' has no {operation} endpoint; {operation} is offered on: {offered}")


def endpoint_for(operation: Operation, version: str) -> str:
    try:
        return ENDPOINTS[(operation, version)]  # type: ignore[index]
    except KeyError:
        raise UnsupportedVersionError(operation, version) from None


def parse_operation(name: str) -> Operation:
    """Accept an operation name or the tool that performs it (`generate_video` -> text-to-video)."""
    if name in TOOL_OPERATIONS:
        return TOOL_OPERATIONS[name]
    try:
        return Operation(name)
    except ValueError:
        choices = ", ".join([*(op.value for op in Operation), *TOOL_OPERATIONS])
        raise ValueError(f"operation '{name}' is not known; use one of: {choices}") from None
