"""What HappyHorse on fal offers, one spec per operation: its tool, fal endpoint per version, the arguments sent to
fal, its media arguments and their rules, and its price rule.

Sources: fal's model pages for alibaba/happy-horse (llms.txt and /api), gathered 2026-11. A change at fal is a
change here: tool descriptions' price sentences, the README's tables and the estimates are all derived from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final, Literal

from .errors import InvalidArgumentError, UnsupportedVersionError

Version = Literal["1.0", "1.1"]
Resolution = Literal["720p", "1080p"]
AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21", "5:4", "4:5"]
AudioSetting = Literal["auto", "origin"]
Billing = Literal["output", "source_plus_output"]
MediaKind = Literal["image", "reference", "video"]


class Operation(StrEnum):
    TEXT_TO_VIDEO = "text-to-video"
    IMAGE_TO_VIDEO = "image-to-video"
    REFERENCE_TO_VIDEO = "reference-to-video"
    VIDEO_EDIT = "video-edit"


RESOLUTIONS: Final[tuple[Resolution, ...]] = ("720p", "1080p")


@dataclass(frozen=True)
class ModelVersion:
    """One HappyHorse version at fal, described once: where its endpoints are, its frames, and its prices (USD per
    second of output video; a video edit's per second of the source too, where the version edits at all)."""

    name: Version
    path: str
    aspect_ratios: tuple[AspectRatio, ...]
    usd_per_second: Mapping[Resolution, Decimal]
    edit_usd_per_second: Mapping[Resolution, Decimal] | None = None
    max_image_mb: int = 10  # an input image's largest size


MODEL_VERSIONS: Final[tuple[ModelVersion, ...]] = (
    ModelVersion(
        "1.0",
        "alibaba/happy-horse/",
        ("16:9", "9:16", "1:1", "4:3", "3:4"),
        {"720p": Decimal("0.14"), "1080p": Decimal("0.28")},
        edit_usd_per_second={"720p": Decimal("0.14"), "1080p": Decimal("0.28")},
    ),
    ModelVersion(
        "1.1",
        "alibaba/happy-horse/v1.1/",
        ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21", "5:4", "4:5"),
        {"720p": Decimal("0.14"), "1080p": Decimal("0.18")},
        max_image_mb=20,
    ),
)
# What a call without `version` gets: every operation has it.
DEFAULT_VERSION: Final[Version] = "1.0"
VERSIONS: Final[tuple[Version, ...]] = tuple(version.name for version in MODEL_VERSIONS)
ASPECT_RATIOS: Final[dict[Version, tuple[AspectRatio, ...]]] = {v.name: v.aspect_ratios for v in MODEL_VERSIONS}
_BY_NAME: Final[dict[str, ModelVersion]] = {version.name: version for version in MODEL_VERSIONS}

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

MB: Final = 1024 * 1024
IMAGE_FORMATS: Final = frozenset({"JPEG", "PNG", "BMP", "WEBP"})
REFERENCE_FORMATS: Final = frozenset({"JPEG", "PNG", "WEBP"})
MAX_IMAGE_ASPECT: Final = 2.5


@dataclass(frozen=True)
class MediaRule:
    """fal's limits for one kind of input file."""

    kind: Literal["image", "video"]
    max_bytes: int
    formats: frozenset[str] = IMAGE_FORMATS
    min_side: int = 300
    min_short_side: int = 0
    max_long_side: int = 0
    min_seconds: float = 0
    max_seconds: float = 0


def image_rule(version: str, *, reference: bool = False) -> MediaRule:
    return MediaRule(
        kind="image",
        max_bytes=_BY_NAME.get(version, _BY_NAME[DEFAULT_VERSION]).max_image_mb * MB,
        formats=REFERENCE_FORMATS if reference else IMAGE_FORMATS,
        min_short_side=400 if reference else 0,
    )


VIDEO_RULE: Final = MediaRule(
    kind="video",
    max_bytes=100 * MB,
    min_side=0,
    min_short_side=320,
    max_long_side=2160,
    min_seconds=MIN_EDIT_SOURCE_SECONDS,
    max_seconds=MAX_EDIT_SOURCE_SECONDS,
)
# A video extend_video fetches to continue: never sent to fal (only its last frame is), so any frame up to fal's
# largest, which also bounds what decoding one of its frames costs here.
CONTINUED_VIDEO_RULE: Final = MediaRule(
    kind="video",
    max_bytes=VIDEO_RULE.max_bytes,
    min_side=0,
    max_long_side=VIDEO_RULE.max_long_side,
    min_seconds=VIDEO_RULE.min_seconds,
    max_seconds=VIDEO_RULE.max_seconds,
)


@dataclass(frozen=True)
class MediaArgument:
    """A tool argument that names media: one URL/path, or a list of them (`many`)."""

    name: str
    kind: MediaKind
    many: bool = False

    def rule(self, version: str) -> MediaRule:
        return VIDEO_RULE if self.kind == "video" else image_rule(version, reference=self.kind == "reference")


# USD per second of output video; shared by text, image and reference to video.
_GENERATION_RATES: Final[dict[tuple[Version, Resolution], Decimal]] = {
    (version.name, resolution): usd for version in MODEL_VERSIONS for resolution, usd in version.usd_per_second.items()
}
# Video edit: USD per second of the source video, and again per second of the output.
_EDIT_RATES: Final[dict[tuple[Version, Resolution], Decimal]] = {
    (version.name, resolution): usd
    for version in MODEL_VERSIONS
    for resolution, usd in (version.edit_usd_per_second or {}).items()
}
PRICES_AS_OF: Final = "2026-11"


@dataclass(frozen=True)
class OperationSpec:
    """One HappyHorse operation, described once."""

    operation: Operation
    tool: str
    endpoints: Mapping[Version, str]
    fal_arguments: tuple[str, ...]  # tool arguments passed on to fal, in this order
    media: tuple[MediaArgument, ...]
    rates: Mapping[tuple[Version, Resolution], Decimal]
    billing: Billing = "output"
    has_aspect_ratio: bool = False

    @property
    def versions(self) -> tuple[Version, ...]:
        return tuple(self.endpoints)

    @property
    def default_version(self) -> Version:
        return self.versions[0]

    def endpoint(self, version: str) -> str:
        try:
            return self.endpoints[version]  # type: ignore[index]
        except KeyError:
            raise UnsupportedVersionError(self.operation, version, list(self.versions)) from None

    def rate(self, version: str, resolution: str) -> Decimal:
        self.endpoint(version)
        return self.rates[(version, resolution)]  # type: ignore[index]


def _endpoints(name: str, *, edits: bool = False) -> dict[Version, str]:
    """The operation's endpoint on each version that has it (video edit: those with edit prices)."""
    return {
        version.name: version.path + name
        for version in MODEL_VERSIONS
        if not edits or version.edit_usd_per_second is not None
    }


_COMMON = ("duration", "resolution", "seed", "enable_safety_checker")

TEXT_TO_VIDEO = OperationSpec(
    operation=Operation.TEXT_TO_VIDEO,
    tool="generate_video",
    endpoints=_endpoints("text-to-video"),
    fal_arguments=("prompt", *_COMMON, "aspect_ratio"),
    media=(),
    rates=_GENERATION_RATES,
    has_aspect_ratio=True,
)
IMAGE_TO_VIDEO = OperationSpec(
    operation=Operation.IMAGE_TO_VIDEO,
    tool="image_to_video",
    endpoints=_endpoints("image-to-video"),
    fal_arguments=("image_url", "prompt", *_COMMON),
    media=(MediaArgument("image_url", "image"),),
    rates=_GENERATION_RATES,
)
REFERENCE_TO_VIDEO = OperationSpec(
    operation=Operation.REFERENCE_TO_VIDEO,
    tool="reference_to_video",
    endpoints=_endpoints("reference-to-video"),
    fal_arguments=("prompt", "image_urls", *_COMMON, "aspect_ratio"),
    media=(MediaArgument("image_urls", "reference", many=True),),
    rates=_GENERATION_RATES,
    has_aspect_ratio=True,
)
VIDEO_EDIT = OperationSpec(
    operation=Operation.VIDEO_EDIT,
    tool="edit_video",
    endpoints=_endpoints("video-edit", edits=True),
    fal_arguments=(
        "video_url",
        "prompt",
        "reference_image_urls",
        "resolution",
        "audio_setting",
        "seed",
        "enable_safety_checker",
    ),
    media=(MediaArgument("video_url", "video"), MediaArgument("reference_image_urls", "image", many=True)),
    rates=_EDIT_RATES,
    billing="source_plus_output",
)

SPECS: Final[dict[Operation, OperationSpec]] = {
    spec.operation: spec for spec in (TEXT_TO_VIDEO, IMAGE_TO_VIDEO, REFERENCE_TO_VIDEO, VIDEO_EDIT)
}
TOOL_OPERATIONS: Final[dict[str, Operation]] = {spec.tool: spec.operation for spec in SPECS.values()}


def parse_operation(name: str) -> OperationSpec:
    """Accept an operation name or the tool that performs it (`generate_video` -> text-to-video)."""
    name = name.strip()
    if name in TOOL_OPERATIONS:
        return SPECS[TOOL_OPERATIONS[name]]
    try:
        return SPECS[Operation(name)]
    except ValueError:
        choices = ", ".join([*(op.value for op in Operation), *TOOL_OPERATIONS])
        raise InvalidArgumentError(
            f"Invalid argument operation: operation '{name}' is not known; use one of: {choices}."
        ) from None


def check_aspect_ratio(version: str, aspect_ratio: str) -> None:
    allowed = ASPECT_RATIOS.get(version, ())  # type: ignore[call-overload]
    if aspect_ratio not in allowed:
        raise InvalidArgumentError(
            f"Invalid argument aspect_ratio: version {version} offers {', '.join(allowed)} (21:9, 9:21, 5:4 and 4:5 "
            f"need version 1.1); got {aspect_ratio!r}. Nothing was submitted."
        )


def media_sentence(spec: OperationSpec) -> str:
    """fal's limits on the spec's media, as a tool description states them, from the rules above."""
    parts = []
    for media in spec.media:
        rule = media.rule(spec.default_version)
        size = f"<= {rule.max_bytes // MB} MB"
        if rule.kind == "video":
            parts.append(
                f"{media.name}: MP4 or MOV, {rule.min_seconds:g}-{rule.max_seconds:g} s, {size}, longer side <= "
                f"{rule.max_long_side} px"
            )
            continue
        larger = {media.rule(v).max_bytes // MB for v in spec.versions} - {rule.max_bytes // MB}
        if larger:
            size += "".join(
                f" ({mb} MB on {v})" for v in spec.versions if (mb := media.rule(v).max_bytes // MB) in larger
            )
        side = f"shorter side >= {rule.min_short_side} px" if rule.min_short_side else f"sides >= {rule.min_side} px"
        formats = ", ".join(sorted(rule.formats))
        parts.append(
            f"{media.name}: {formats}; {side}, aspect 1:{MAX_IMAGE_ASPECT:g} to {MAX_IMAGE_ASPECT:g}:1, {size}"
        )
    return "; ".join(parts) + "." if parts else ""


def price_sentence(spec: OperationSpec) -> str:
    """The price as a tool description states it, from the rates above."""

    def usd(rate: Decimal) -> str:
        return f"USD {rate:.2f}"

    if spec.billing == "source_plus_output":
        version = spec.default_version
        parts = " or ".join(f"{usd(spec.rates[(version, r)])} ({r})" for r in RESOLUTIONS)
        example = spec.rates[(version, "1080p")] * 20
        return f"Price: source seconds plus output seconds, each {parts}: a 10 s source at 1080p costs {usd(example)}."
    per_resolution = []
    for resolution in RESOLUTIONS:
        rates = {version: spec.rates[(version, resolution)] for version in spec.versions}
        if len(set(rates.values())) == 1:
            per_resolution.append(f"{usd(next(iter(rates.values())))}/s at {resolution}")
        else:
            by_version = ", ".join(f"{usd(rate)}/s on {version}" for version, rate in rates.items())
            per_resolution.append(f"{resolution} {by_version}")
    example = spec.rates[(spec.default_version, "1080p")] * 5
    return f"Price: {'; '.join(per_resolution)} (5 s at 1080p on {spec.default_version} = {usd(example)})."
