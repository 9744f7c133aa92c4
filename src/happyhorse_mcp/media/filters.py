"""Small helpers over PyAV filter graphs: build a chain, push frames through it, take what comes out."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import av

# A video to read: its path, or an open file (read from its start each time: a review's temporary file has no name).
Media = Path | BinaryIO


def opened(media: Media) -> Any:
    """`media` opened for reading with PyAV, from its start."""
    if isinstance(media, Path):
        return av.open(str(media))
    media.seek(0)
    return av.open(media, mode="r")


def chain(graph: av.filter.Graph, source: Any, filters: Iterable[tuple[str, str]], sink: str) -> Any:
    """Link `source` through `filters` (name, arguments) into a new sink of kind `sink`; configures the graph."""
    previous = source
    for name, arguments in filters:
        node = graph.add(name, arguments)
        previous.link_to(node)
        previous = node
    out = graph.add(sink)
    previous.link_to(out)
    graph.configure()
    return out


def drain(sink: Any) -> Iterator[Any]:
    """Every frame the sink has ready now."""
    while True:
        try:
            yield sink.pull()
        except (av.BlockingIOError, av.EOFError):
            return


def run(source: Any, sink: Any, frames: Iterable[Any]) -> Iterator[Any]:
    """Push `frames` (then the end) into `source`, yielding what `sink` gives back as it comes; stops pushing once the
    graph has all it wants (a trim that has passed its end)."""
    for frame in frames:
        try:
            source.push(frame)
        except av.EOFError:
            break
        yield from drain(sink)
    with contextlib.suppress(av.EOFError):
        source.push(None)
    yield from drain(sink)


def length(path: Media) -> float:
    """The file's duration in seconds, from its header."""
    with opened(path) as container:
        return float(container.duration or 0) / av.time_base


def stretches(frames: Iterable[Any], kind: str, until: Callable[[], float]) -> list[tuple[float, float]]:
    """The (start, end) stretches a detect filter marks in its frames' metadata (`lavfi.<kind>_start` and `_end`);
    one still open when the frames end runs to `until()`."""
    found: list[tuple[float, float]] = []
    start = None
    for frame in frames:
        if f"lavfi.{kind}_start" in frame.metadata:
            start = float(frame.metadata[f"lavfi.{kind}_start"])
        if f"lavfi.{kind}_end" in frame.metadata and start is not None:
            found.append((start, float(frame.metadata[f"lavfi.{kind}_end"])))
            start = None
    if start is not None:
        found.append((start, until()))
    return found


def merge(kind: str, buffer: str, through: tuple[str, str], first: Iterable[Any], second: Iterable[Any]) -> list[Any]:
    """Two inputs of one `kind` ("video" or "audio", each described by `buffer`'s arguments) through a two-input
    filter (`xfade`, `acrossfade`): what comes out."""
    source_kind, sink_kind = ("buffer", "buffersink") if kind == "video" else ("abuffer", "abuffersink")
    graph = av.filter.Graph()
    inputs = graph.add(source_kind, buffer), graph.add(source_kind, buffer)
    node = graph.add(*through)
    sink = graph.add(sink_kind)
    for pad, source in enumerate(inputs):
        source.link_to(node, 0, pad)
    node.link_to(sink)
    graph.configure()
    for source, frames in zip(inputs, (first, second), strict=True):
        for frame in frames:
            source.push(frame)
        source.push(None)
    return list(drain(sink))
