"""Measures of a clip's sound with FFmpeg's filters: integrated loudness (EBU R128, `ebur128`) in LUFS, and the
stretches of silence (`silencedetect`)."""

from __future__ import annotations

from typing import Any

import av

from .filters import Media, chain, length, opened, run, stretches

SILENT_LUFS = -70.0  # ebur128's floor: what it reports for silence


def integrated_loudness(path: Media, start: float = 0.0, end: float | None = None) -> float | None:
    """LUFS of the sound from `start` to `end` seconds (the whole clip by default); None when it has no sound."""
    trim = f"start={start}" + (f":end={end}" if end is not None else "")
    measured = None
    for frame in _through(path, [("atrim", trim), ("ebur128", "metadata=1")]) or ():
        measured = frame.metadata.get("lavfi.r128.I", measured)
    return float(measured) if measured is not None else None


def silences(path: Media, *, below_db: float = -50.0, longer_than: float = 0.2) -> list[tuple[float, float]]:
    """Each stretch of sound quieter than `below_db` for more than `longer_than` seconds, as (start, end); a clip
    without sound is one silence of its whole length."""
    frames = _through(path, [("silencedetect", f"n={below_db}dB:d={longer_than}")])
    if frames is None:
        return [(0.0, length(path))]
    return stretches(frames, "silence", lambda: length(path))


def _through(path: Media, filters: list[tuple[str, str]]) -> list[Any] | None:
    """The clip's sound through `filters`, frame by frame; None when it has no sound."""
    with opened(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        graph = av.filter.Graph()
        source = graph.add_abuffer(template=stream)
        sink = chain(graph, source, filters, "abuffersink")
        return list(run(source, sink, container.decode(stream)))
