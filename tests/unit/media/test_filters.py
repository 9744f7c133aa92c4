"""The helpers over PyAV's filter graphs: a file read from a path or an open file, frames through a chain, the
stretches a detect filter marks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import pytest

from happyhorse_mcp.media.filters import chain, length, opened, run, stretches

from ...media_factory import encoded_video


@dataclass
class Marked:
    metadata: dict[str, str] = field(default_factory=dict)


def test_stretches_pair_each_start_with_its_end_and_one_still_open_runs_to_the_end() -> None:
    frames = [
        Marked({"lavfi.black_start": "0.5"}),
        Marked(),
        Marked({"lavfi.black_end": "1.25"}),
        Marked({"lavfi.black_end": "1.5"}),  # an end without a start is ignored
        Marked({"lavfi.black_start": "2"}),
    ]
    assert stretches(frames, "black", until=lambda: 3.0) == [(0.5, 1.25), (2.0, 3.0)]


def test_a_file_is_read_alike_from_its_path_or_an_open_file_from_its_start(tmp_path: Path) -> None:
    clip = encoded_video(tmp_path / "clip.mp4", seconds=2)
    assert length(clip) == pytest.approx(2.0, abs=0.1)
    with clip.open("rb") as file:
        file.seek(100)  # wherever the file was left, it is read from its start
        assert length(file) == pytest.approx(length(clip))
        with opened(file) as container:
            assert container.streams.video[0].width == 320


def test_frames_go_through_a_chain_and_pushing_stops_once_the_graph_wants_no_more(tmp_path: Path) -> None:
    clip = encoded_video(tmp_path / "clip.mp4", seconds=3, fps=12, audio=None)
    pushed = 0

    def counted(frames: Any) -> Any:
        nonlocal pushed
        for frame in frames:
            pushed += 1
            yield frame

    with opened(clip) as container:
        stream = container.streams.video[0]
        graph = av.filter.Graph()
        source = graph.add_buffer(template=stream)
        sink = chain(graph, source, [("trim", "duration=1"), ("scale", "160:90")], "buffersink")
        out = list(run(source, sink, counted(container.decode(stream))))
    assert len(out) == 12  # one second at 12 frames a second
    assert {(frame.width, frame.height) for frame in out} == {(160, 90)}
    assert pushed < 3 * 12  # the last second was never decoded and pushed
