"""Shots into one film: every shot brought to one canvas (size, frame rate, pixel format, sample rate, stereo), every
shot's sound to one loudness (EBU R128: each shot measured, then given the gain that brings it to the target, with
a limiter against clipping), and shots joined by cuts or by crossfades of picture and sound alike (FFmpeg's `xfade`
and `acrossfade` over the overlapping seconds only).

It streams: only the frames of one overlap are ever held, never a whole shot, so memory stays flat whatever the
film's length. Sound follows picture sample for sample (each frame carries exactly its share of samples; a shot
whose sound runs short is padded with silence, one without sound gets silence), so picture and sound stay in step
across every join. A film of shots lasting d1..dn with crossfades of t seconds lasts d1 + ... + dn - (n - 1) t.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.fifo import AudioFifo

from .filters import chain, merge, run
from .loudness import SILENT_LUFS, integrated_loudness

TARGET_LUFS = -16.0  # streaming platforms' usual target for speech and music
MAX_GAIN_DB = 20.0  # a nearly silent shot is not pumped up into noise
LIMIT = 0.89  # about -1 dBFS: the limiter's ceiling after the gain
AUDIO_LAYOUT = "stereo"
AUDIO_FORMAT = "fltp"


@dataclass(frozen=True)
class Canvas:
    """What every shot is brought to."""

    width: int
    height: int
    fps: int = 24
    sample_rate: int = 48000

    @property
    def samples_per_frame(self) -> Fraction:
        return Fraction(self.sample_rate, self.fps)

    @classmethod
    def of(cls, path: Path, fps: int = 24) -> Canvas:
        """The canvas of a shot as it is (its picture size), at `fps`."""
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return cls(width=stream.codec_context.width, height=stream.codec_context.height, fps=fps)


@dataclass(frozen=True)
class Assembled:
    path: Path
    seconds: float
    frames: int
    shot_frames: tuple[int, ...]
    gains_db: tuple[float, ...]


def assemble(
    shots: Sequence[Path],
    out: Path,
    *,
    canvas: Canvas,
    crossfade_seconds: float = 0.0,
    target_lufs: float = TARGET_LUFS,
) -> Assembled:
    """Write the film of `shots` to `out` (an MP4: H.264 and AAC)."""
    if not shots:
        raise ValueError("a film needs at least one shot")
    overlap = round(crossfade_seconds * canvas.fps)
    gains = tuple(_gain(integrated_loudness(shot), target_lufs) for shot in shots)
    if overlap == 0 and _copyable(shots, canvas):
        try:
            return _cut_by_copy(shots, out, canvas, gains)
        except (av.error.FFmpegError, ValueError):  # timestamps the muxer refuses: made the long way instead
            out.unlink(missing_ok=True)
    with av.open(str(out), "w") as container:
        film = _Film(container, canvas, overlap)
        for index, (shot, gain) in enumerate(zip(shots, gains, strict=True)):
            film.add(shot, gain, last=index == len(shots) - 1)
        film.close()
    return Assembled(out, film.frames / canvas.fps, film.frames, tuple(film.shot_frames), gains)


def _copyable(shots: Sequence[Path], canvas: Canvas) -> bool:
    """Whether cut shots can be joined without decoding their pictures: all H.264 on the canvas already, encoded
    with the same parameters (fal's clips of one film are), so their packets follow one another in one stream."""
    seen = set()
    for shot in shots:
        with av.open(str(shot)) as container:
            if not container.streams.video:
                return False
            stream = container.streams.video[0]
            context = stream.codec_context
            if (context.name, context.width, context.height, context.pix_fmt) != (
                "h264",
                canvas.width,
                canvas.height,
                "yuv420p",
            ) or stream.average_rate != canvas.fps:
                return False
            seen.add(bytes(context.extradata or b""))
    return len(seen) == 1


def _cut_by_copy(shots: Sequence[Path], out: Path, canvas: Canvas, gains: tuple[float, ...]) -> Assembled:
    """Cut shots joined by copying their pictures as they are (no decoding, no encoding) and re-encoding only their
    sound, brought to one loudness as the long way does: seconds instead of minutes for a long film."""
    frame = Fraction(1, canvas.fps)
    with av.open(str(out), "w") as container:
        with av.open(str(shots[0])) as first:
            picture = container.add_stream_from_template(first.streams.video[0])
        sound = _SoundTrack(container, canvas)
        start, shot_frames = Fraction(0), []
        for shot, gain in zip(shots, gains, strict=True):
            with av.open(str(shot)) as source:
                stream = source.streams.video[0]
                shift = int(start / (stream.time_base or frame))
                count = 0
                for packet in source.demux(stream):
                    if packet.dts is None:  # the demuxer's empty packet at the end
                        continue
                    packet.pts = None if packet.pts is None else packet.pts + shift
                    packet.dts += shift
                    packet.stream = picture
                    container.mux(packet)
                    count += 1
            shot_frames.append(count)
            start += count * frame
            shot_sound = _sound(shot, canvas, gain, int(count * canvas.samples_per_frame)).read()
            if shot_sound is not None:
                sound.write(shot_sound)
        sound.close()
    frames = sum(shot_frames)
    return Assembled(out, frames / canvas.fps, frames, tuple(shot_frames), gains)


class _SoundTrack:
    """The film's AAC stream: blocks of any size in, whole encoder frames out, numbered by their first sample."""

    def __init__(self, container: Any, canvas: Canvas) -> None:
        self.container, self.canvas = container, canvas
        self.stream = container.add_stream("aac", rate=canvas.sample_rate, layout=AUDIO_LAYOUT)
        self.pending = AudioFifo()
        self.samples = 0

    def write(self, block: Any) -> None:
        block.pts = None  # the fifo numbers the samples itself
        self.pending.write(block)
        size = self.stream.codec_context.frame_size or 1024
        while self.pending.samples >= size:
            self._mux(self.pending.read(size))

    def close(self) -> None:
        if self.pending.samples:
            self._mux(self.pending.read())
        self.container.mux(self.stream.encode())

    def _mux(self, frame: Any) -> None:
        frame.pts, frame.time_base = self.samples, Fraction(1, self.canvas.sample_rate)
        self.samples += frame.samples
        self.container.mux(self.stream.encode(frame))


def _gain(loudness: float | None, target: float) -> float:
    if loudness is None or loudness <= SILENT_LUFS:
        return 0.0
    return max(-MAX_GAIN_DB, min(MAX_GAIN_DB, target - loudness))


class _Film:
    """The output being written: two encoders, and the tail of the previous shot a crossfade blends."""

    def __init__(self, container: Any, canvas: Canvas, overlap: int) -> None:
        self.container, self.canvas, self.overlap = container, canvas, overlap
        self.picture = container.add_stream("libx264", rate=canvas.fps)
        self.picture.width, self.picture.height, self.picture.pix_fmt = canvas.width, canvas.height, "yuv420p"
        # superfast: 60 s of 1080p in about 19 s on 2 cores (veryfast 23 s, ultrafast 14 s at twice the bytes).
        self.picture.options = {"preset": "superfast", "crf": "20"}
        self.sound = _SoundTrack(container, canvas)
        self.frames = 0
        self.shot_frames: list[int] = []
        self.tail_pictures: list[Any] = []
        self.tail_sound: Any = None

    # -- one shot ------------------------------------------------------------------------------------------------

    def add(self, shot: Path, gain_db: float, *, last: bool) -> None:
        held = self.overlap if not last else 0
        pictures = _pictures(shot, self.canvas)
        count = 0
        if self.tail_pictures:
            head = list(itertools.islice(pictures, self.overlap))
            count += len(head)
            for frame in _crossfade_pictures(self.tail_pictures, head, self.canvas):
                self._encode_picture(frame)
        keep: collections.deque[Any] = collections.deque()
        for frame in pictures:
            count += 1
            keep.append(frame)
            if len(keep) > held:
                self._encode_picture(keep.popleft())
        self.tail_pictures = list(keep)
        self.shot_frames.append(count)

        wanted = self._samples_for(count)
        sound = _sound(shot, self.canvas, gain_db, wanted)
        if self.tail_sound is not None:
            blended = _crossfade_sound(self.tail_sound, sound.read(self.tail_sound.samples), self.canvas)
            self.sound.write(blended)
        body = sound.read(sound.samples - self._samples_for(held)) if sound.samples > self._samples_for(held) else None
        if body is not None:
            self.sound.write(body)
        self.tail_sound = sound.read() if held else None

    def _samples_for(self, frames: int) -> int:
        return int(frames * self.canvas.samples_per_frame)

    # -- encoding ------------------------------------------------------------------------------------------------

    def _encode_picture(self, frame: Any) -> None:
        frame.pts, frame.time_base = self.frames, Fraction(1, self.canvas.fps)
        self.frames += 1
        self.container.mux(self.picture.encode(frame))

    def close(self) -> None:
        for frame in self.tail_pictures:
            self._encode_picture(frame)
        if self.tail_sound is not None:
            self.sound.write(self.tail_sound)
        self.container.mux(self.picture.encode())
        self.sound.close()


def _pictures(shot: Path, canvas: Canvas) -> Iterator[Any]:
    """The shot's frames on the canvas: scaled to fit, padded, at the canvas's frame rate, yuv420p."""
    w, h = canvas.width, canvas.height
    with av.open(str(shot)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        same_rate = stream.average_rate is not None and stream.average_rate == canvas.fps
        if same_rate and (context.width, context.height, context.pix_fmt) == (w, h, "yuv420p"):
            yield from container.decode(stream)  # already on the canvas (fal's clips are): no filter to pass
            return
        graph = av.filter.Graph()
        source = graph.add_buffer(template=stream)
        filters = [
            ("scale", f"{w}:{h}:force_original_aspect_ratio=decrease"),
            ("pad", f"{w}:{h}:(ow-iw)/2:(oh-ih)/2"),
            ("setsar", "1"),
            ("fps", str(canvas.fps)),
            ("format", "yuv420p"),
        ]
        sink = chain(graph, source, filters, "buffersink")
        yield from run(source, sink, container.decode(stream))


def _sound(shot: Path, canvas: Canvas, gain_db: float, samples: int) -> Any:
    """Exactly `samples` of the shot's sound, gained and limited, at the canvas's rate in stereo; silence where the
    shot has none."""
    fifo = AudioFifo()
    with av.open(str(shot)) as container:
        if container.streams.audio:
            stream = container.streams.audio[0]
            graph = av.filter.Graph()
            source = graph.add_abuffer(template=stream)
            filters = [
                ("volume", f"{gain_db:.2f}dB"),
                ("alimiter", f"limit={LIMIT}:level=false"),
                ("aresample", str(canvas.sample_rate)),
                ("aformat", f"sample_fmts={AUDIO_FORMAT}:channel_layouts={AUDIO_LAYOUT}"),
            ]
            sink = chain(graph, source, filters, "abuffersink")
            for frame in run(source, sink, container.decode(stream)):
                if fifo.samples >= samples:
                    break
                frame.pts = None
                fifo.write(frame)
    exact = AudioFifo()
    if fifo.samples and (kept := fifo.read(min(samples, fifo.samples))) is not None:
        exact.write(kept)
    if exact.samples < samples:
        exact.write(_silence(samples - exact.samples, canvas.sample_rate))
    return exact


def _silence(samples: int, rate: int) -> Any:
    frame = av.AudioFrame(format=AUDIO_FORMAT, layout=AUDIO_LAYOUT, samples=samples)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.sample_rate = rate
    return frame


def _crossfade_pictures(tail: list[Any], head: list[Any], canvas: Canvas) -> Iterator[Any]:
    """`tail` fading into `head` (as many frames as the shorter of the two)."""
    frames = min(len(tail), len(head))
    for run_of in (tail[-frames:], head[:frames]):
        for index, frame in enumerate(run_of):
            frame.pts, frame.time_base = index, Fraction(1, canvas.fps)
    buffer = (
        f"video_size={canvas.width}x{canvas.height}:pix_fmt=yuv420p:time_base=1/{canvas.fps}:"
        f"frame_rate={canvas.fps}/1:pixel_aspect=1/1"
    )
    fade = ("xfade", f"transition=fade:duration={frames / canvas.fps}:offset=0")
    yield from merge("video", buffer, fade, tail[-frames:], head[:frames])[:frames]


def _crossfade_sound(tail: Any, head: Any, canvas: Canvas) -> Any:
    """`tail` fading into `head`, both the same number of samples: as many samples out."""
    samples = tail.samples
    for frame in (tail, head):
        frame.pts, frame.time_base, frame.sample_rate = 0, Fraction(1, canvas.sample_rate), canvas.sample_rate
    buffer = (
        f"time_base=1/{canvas.sample_rate}:sample_rate={canvas.sample_rate}:sample_fmt={AUDIO_FORMAT}:"
        f"channel_layout={AUDIO_LAYOUT}"
    )
    out = AudioFifo()
    for frame in merge("audio", buffer, ("acrossfade", f"ns={samples}:c1=tri:c2=tri"), [tail], [head]):
        frame.pts = None
        out.write(frame)
    if out.samples < samples:
        out.write(_silence(samples - out.samples, canvas.sample_rate))
    return out.read(samples)
