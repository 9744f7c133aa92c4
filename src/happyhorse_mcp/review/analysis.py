"""What a video file really is, and frames from it, decoded with PyAV (its wheels carry FFmpeg).

PyAV and Pillow are imported inside these functions, which run in a worker thread when review_video is called:
the server's start never pays for them.
"""

from __future__ import annotations

import array
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from ..domain.errors import UnreadableVideoError

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream
    from PIL.Image import Image

# Below this peak the sound is reported silent: -60 dBFS is under the noise floor of any mix worth hearing.
SILENCE_DBFS = -60.0
# Sound is measured at this rate: levels do not need more, and it keeps the work small.
LEVEL_RATE = 16000
MIN_DBFS = -120.0
# Slice threads, not frame threads: on two cores frame threading decoded a 15 s 1080p clip a third slower and held
# more frames in memory (bench/review.py).
THREAD_TYPE = "SLICE"
# What a review decodes is bounded by the picture, not the file: a 2 MB file can hold 16000x16000 frames, each 380 MB
# decoded. 4096x2304 covers every HappyHorse output (1080p) and edit source (2160 px on the longer side) with room.
MAX_REVIEW_PIXELS = 4096 * 2304
# Ten minutes at 60 fps: far more than any clip or film this server makes.
MAX_REVIEW_FRAMES = 36_000


@dataclass(frozen=True)
class AudioFacts:
    codec: str
    seconds: float
    peak_dbfs: float
    mean_dbfs: float

    @property
    def silent(self) -> bool:
        return self.peak_dbfs < SILENCE_DBFS


@dataclass(frozen=True)
class VideoFacts:
    duration_seconds: float
    fps: float
    width: int
    height: int
    codec: str
    audio: AudioFacts | None
    frames: list[tuple[float, Image]]


def evenly_spaced(duration: float, count: int) -> list[float]:
    """`count` moments, each in the middle of its equal share of the clip: frame N of 3 in a 3 s clip is second N."""
    return [round(duration * (index + 0.5) / count, 3) for index in range(count)]


def _dbfs(level: float) -> float:
    return round(max(MIN_DBFS, 20 * math.log10(level / 32768)) if level > 0 else MIN_DBFS, 1)


def _audio(container: InputContainer, stream: AudioStream) -> AudioFacts:
    import av

    resampler = av.AudioResampler(format="s16", layout="mono", rate=LEVEL_RATE)
    peak = total = count = 0

    def measure(frames: list[AudioFrame]) -> None:
        nonlocal peak, total, count
        for out in frames:
            samples = array.array("h", bytes(out.planes[0]))[: out.samples]
            if samples:
                peak = max(peak, max(map(abs, samples)))
                total += sum(map(abs, samples))
                count += len(samples)

    container.seek(0)
    for frame in container.decode(stream):
        measure(resampler.resample(frame))
    measure(resampler.resample(None))
    return AudioFacts(
        codec=stream.codec_context.name,
        seconds=round(count / LEVEL_RATE, 2),
        peak_dbfs=_dbfs(peak),
        mean_dbfs=_dbfs(total / count if count else 0),
    )


def _frames_at(
    container: InputContainer, stream: VideoStream, moments: list[float], size: tuple[int, int]
) -> list[Image]:
    """The frame on screen at each of the sorted `moments` (the last one starting at or before it), scaled by FFmpeg
    to `size`. One pass from the start, no seeking: its cost is the clip's decode, whatever the keyframe spacing (a
    seek per moment pays up to a whole group of pictures each time)."""
    assert stream.time_base is not None
    start = stream.start_time or 0
    targets = [start + int(moment / stream.time_base) for moment in moments]
    pictures: list[Image] = []
    shown = None

    def scaled(frame: VideoFrame) -> Image:
        picture: Image = frame.reformat(width=size[0], height=size[1], format="rgb24").to_image()  # type: ignore[no-untyped-call]
        return picture

    for decoded, frame in enumerate(container.decode(stream)):
        _check_picture(frame.width, frame.height)  # a stream may change size mid-way
        if decoded >= MAX_REVIEW_FRAMES:
            raise UnreadableVideoError(f"The video has more than {MAX_REVIEW_FRAMES} frames: too long to review here.")
        if frame.pts is None:
            continue
        while len(pictures) < len(targets) and frame.pts > targets[len(pictures)]:
            pictures.append(scaled(shown or frame))
        if len(pictures) == len(targets):
            return pictures
        shown = frame
    if shown is not None:  # moments within the last frame's time on screen
        pictures.extend(scaled(shown) for _ in range(len(targets) - len(pictures)))
    return pictures


def analyse(file: BinaryIO, *, count: int, at_seconds: list[float] | None) -> VideoFacts:
    """Read `file`: the video's facts, its sound's levels, and frames at `at_seconds` (else `count` evenly spaced),
    each scaled to its cell on the contact sheet."""
    import av

    from .sheet import cell_size

    try:
        with av.open(file, mode="r") as container:
            if not container.streams.video:
                raise UnreadableVideoError("The file has no video track.")
            video = container.streams.video[0]
            video.thread_type = THREAD_TYPE
            context = video.codec_context
            _check_picture(context.width, context.height)
            duration = _duration(container, video)
            fps = float(video.average_rate or video.guessed_rate or 0)
            if max(video.frames, duration * fps) > MAX_REVIEW_FRAMES:
                raise UnreadableVideoError(
                    f"The video has more than {MAX_REVIEW_FRAMES} frames ({duration:.0f} s at {fps:g} fps): too long "
                    "to review here."
                )
            if at_seconds is not None:
                late = [t for t in at_seconds if t >= duration]
                if late:
                    raise UnreadableVideoError(
                        f"at_seconds {', '.join(f'{t:g}' for t in late)} is past the end of this {duration:.2f} s "
                        f"video: give moments from 0 to {max(0.0, duration - 0.01):.2f}."
                    )
            moments = sorted(at_seconds) if at_seconds is not None else evenly_spaced(duration, count)
            size = cell_size(context.width, context.height, len(moments))
            pictures = _frames_at(container, video, moments, size)
            if len(pictures) < len(moments):
                raise UnreadableVideoError(
                    f"No frame could be decoded at {moments[len(pictures)]:g} s: the file looks cut short or damaged."
                )
            frames = list(zip(moments, pictures, strict=True))
            audio = _audio(container, container.streams.audio[0]) if container.streams.audio else None
            return VideoFacts(
                duration_seconds=round(duration, 3),
                fps=round(fps, 3),
                width=context.width,
                height=context.height,
                codec=context.name,
                audio=audio,
                frames=frames,
            )
    except av.FFmpegError as exc:
        # FFmpeg's own words, without the file name (an unnamed temporary file's descriptor number).
        said = getattr(exc, "strerror", None) or type(exc).__name__
        raise UnreadableVideoError(
            f"The file is not a video that can be decoded, or it is damaged or cut short (FFmpeg: {said})."
        ) from exc


def _check_picture(width: int, height: int) -> None:
    if width * height > MAX_REVIEW_PIXELS:
        raise UnreadableVideoError(
            f"The video's frames are {width}x{height}, more than a review decodes ({MAX_REVIEW_PIXELS:,} pixels, e.g. "
            "4096x2304); it is not one this server made. Nothing was decoded."
        )


def _duration(container: InputContainer, video: VideoStream) -> float:
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    raise UnreadableVideoError("The file does not say how long it is: it looks cut short or damaged.")
