"""Shots become one film on real media: one picture and one sound stream, the planned length less the overlaps, no
gap in the sound at a join, every shot at one loudness, whatever each shot's size and level."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from happyhorse_mcp.media.assemble import TARGET_LUFS, Assembled, Canvas, assemble
from happyhorse_mcp.media.loudness import integrated_loudness, silences

from ... import media_factory

CANVAS = Canvas(320, 180)  # small: the tests are about joins and sound, not pixels


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four shots of different sizes, lengths and levels: loud, quiet, loud again, and a quiet low tone. Made once:
    the tests only read them."""
    tmp_path = tmp_path_factory.mktemp("shots")
    plan = [(3, 320, 180, 0.8, 440.0), (4, 480, 270, 0.05, 660.0), (3, 640, 360, 0.5, 550.0), (5, 320, 240, 0.1, 220.0)]
    return [
        media_factory.encoded_video(tmp_path / f"shot{n}.mp4", seconds=s, width=w, height=h, fps=12, volume=v, hertz=hz)
        for n, (s, w, h, v, hz) in enumerate(plan)
    ]


@pytest.fixture(scope="module")
def crossfaded(shots: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Assembled:
    """The four shots with half-second crossfades: assembled once, the tests only read it."""
    return assemble(shots, tmp_path_factory.mktemp("film") / "film.mp4", canvas=CANVAS, crossfade_seconds=0.5)


def _streams(path: Path) -> list[tuple[str, str]]:
    with av.open(str(path)) as container:
        return [(stream.type, stream.codec_context.name) for stream in container.streams]


def test_a_crossfaded_film_lasts_the_plan_less_the_overlaps_with_one_picture_and_one_sound_stream(
    crossfaded: Assembled,
) -> None:
    film = crossfaded
    planned = 3 + 4 + 3 + 5 - 3 * 0.5
    assert abs(film.seconds - planned) <= 1 / CANVAS.fps
    assert film.shot_frames == (72, 96, 72, 120)
    assert _streams(film.path) == [("video", "h264"), ("audio", "aac")]
    with av.open(str(film.path)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
        sizes = {(s.codec_context.width, s.codec_context.height) for s in container.streams.video}
    assert decoded == film.frames
    assert sizes == {(320, 180)}


def test_the_sound_never_drops_out_at_a_join_and_every_shot_ends_at_one_loudness(
    shots: list[Path], crossfaded: Assembled
) -> None:
    film = crossfaded
    assert silences(film.path, below_db=-50, longer_than=0.2) == []
    bounds, start = [], 0.0
    for frames in film.shot_frames:
        length = frames / CANVAS.fps
        bounds.append((start + 0.5, start + length - 0.5))  # each shot away from the fades
        start += length - 0.5
    levels = [integrated_loudness(film.path, begin, end) for begin, end in bounds]
    assert all(level is not None and abs(level - TARGET_LUFS) <= 2.0 for level in levels), levels
    before = [level for shot in shots if (level := integrated_loudness(shot)) is not None]
    assert max(before) - min(before) > 20, "the shots differ in level to begin with"


def test_cut_joins_add_up_to_the_whole_plan_and_a_shot_without_sound_is_silence_not_a_shorter_soundtrack(
    tmp_path: Path,
) -> None:
    shots = [
        media_factory.encoded_video(tmp_path / "a.mp4", seconds=3, fps=12),
        media_factory.encoded_video(tmp_path / "b.mp4", seconds=3, fps=12, audio=None),
    ]
    film = assemble(shots, tmp_path / "film.mp4", canvas=CANVAS)
    assert film.frames == 6 * CANVAS.fps
    with av.open(str(film.path)) as container:
        sound_seconds = sum(frame.samples for frame in container.decode(audio=0)) / CANVAS.sample_rate
    assert abs(sound_seconds - 6.0) <= 1 / CANVAS.fps
    (quiet,) = silences(film.path)
    assert abs(quiet[0] - 3.0) < 0.1


def test_cut_shots_already_on_the_canvas_and_encoded_alike_keep_their_pictures_as_they_are(tmp_path: Path) -> None:
    canvas = Canvas(320, 180, fps=24)
    plan = [(3, 0.8, 440.0), (2, 0.05, 660.0), (3, 0.3, 220.0)]
    shots = [
        media_factory.encoded_video(tmp_path / f"shot{n}.mp4", seconds=s, fps=24, volume=v, hertz=hz, first_colour=n)
        for n, (s, v, hz) in enumerate(plan)
    ]
    film = assemble(shots, tmp_path / "film.mp4", canvas=canvas)

    def pictures(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(packet) for packet in container.demux(video=0) if packet.size]

    assert pictures(film.path) == [picture for shot in shots for picture in pictures(shot)], "copied, not re-encoded"
    assert film.shot_frames == (72, 48, 72)
    assert abs(film.seconds - 8) <= 1 / canvas.fps
    with av.open(str(film.path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == film.frames
    assert silences(film.path, below_db=-50, longer_than=0.2) == []
    for start, end in ((0.3, 2.7), (3.3, 4.7), (5.3, 7.7)):
        loudness = integrated_loudness(film.path, start, end)
        assert loudness is not None
        assert abs(loudness - TARGET_LUFS) <= 1.0, (start, loudness)
