"""Loudness and silence read from real files: a tone 20 dB quieter measures about 20 LU quieter, a silent track sits
at the meter's floor and a file without sound has no loudness, and silence is found where it lies."""

from __future__ import annotations

from pathlib import Path

import pytest

from happyhorse_mcp.media.assemble import Canvas, assemble
from happyhorse_mcp.media.loudness import SILENT_LUFS, integrated_loudness, silences

from ... import media_factory


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("loudness")
    return {
        "loud": media_factory.encoded_video(folder / "loud.mp4", seconds=3, volume=0.5),
        "quiet": media_factory.encoded_video(folder / "quiet.mp4", seconds=3, volume=0.05),
        "silent": media_factory.encoded_video(folder / "silent.mp4", seconds=3, audio="silence"),
        "mute": media_factory.encoded_video(folder / "mute.mp4", seconds=3, audio=None),
    }


def test_a_tone_twenty_db_quieter_measures_about_twenty_lu_quieter(files: dict[str, Path]) -> None:
    loud, quiet = integrated_loudness(files["loud"]), integrated_loudness(files["quiet"])
    assert loud is not None
    assert quiet is not None
    assert abs((loud - quiet) - 20) <= 1.0, (loud, quiet)


def test_a_silent_track_measures_at_the_floor_and_a_missing_one_has_no_loudness(files: dict[str, Path]) -> None:
    assert integrated_loudness(files["silent"]) == SILENT_LUFS
    assert integrated_loudness(files["mute"]) is None


def test_silence_is_found_where_it_lies_and_only_there(files: dict[str, Path], tmp_path: Path) -> None:
    joined = assemble(
        [files["loud"], files["silent"], files["loud"]], tmp_path / "gap.mp4", canvas=Canvas(320, 180, fps=12)
    )
    ((start, end),) = silences(joined.path, longer_than=0.5)
    assert abs(start - 3) <= 0.2
    assert abs(end - 6) <= 0.2
    assert silences(files["loud"]) == []
