"""A join is found clean when picture and sound carry on across it, and each fault at a join is named: black
frames, silence, a jump in level."""

from __future__ import annotations

from pathlib import Path

from happyhorse_mcp.media.assemble import Canvas, assemble
from happyhorse_mcp.media.joins import JUMP_LU, black_stretches, join_facts

from ... import media_factory

CANVAS = Canvas(320, 180)


def test_a_crossfaded_film_has_clean_joins(tmp_path: Path) -> None:
    shots = [
        media_factory.encoded_video(tmp_path / f"{n}.mp4", seconds=3, fps=12, first_colour=n, hertz=220 + 110 * n)
        for n in range(3)
    ]
    film = assemble(shots, tmp_path / "film.mp4", canvas=CANVAS, crossfade_seconds=0.5)
    facts = join_facts(film.path, [2.75, 5.25])
    assert [fact.clean for fact in facts] == [True, True], facts


def test_silence_and_a_level_jump_at_joins_are_named(tmp_path: Path) -> None:
    shots = [
        media_factory.encoded_video(tmp_path / "loud.mp4", seconds=3, fps=12, volume=0.8),
        media_factory.encoded_video(tmp_path / "mute.mp4", seconds=3, fps=12, audio=None),
        media_factory.encoded_video(tmp_path / "loud2.mp4", seconds=3, fps=12, volume=0.8),
        media_factory.encoded_video(tmp_path / "quiet.mp4", seconds=3, fps=12, volume=0.003),
    ]
    film = tmp_path / "film.mp4"
    assemble(shots, film, canvas=CANVAS, target_lufs=-16.0)  # cuts; the quiet shot is brought up only 20 dB
    into_mute, out_of_mute, into_quiet = join_facts(film, [3.0, 6.0, 9.0])
    assert into_mute.silent
    assert out_of_mute.silent
    assert into_quiet.level_jump_lu is not None
    assert into_quiet.level_jump_lu <= -JUMP_LU
    assert not into_quiet.clean


def test_black_frames_are_found_where_they_are(tmp_path: Path) -> None:
    from PIL import Image

    from happyhorse_mcp.media import joins

    picture = media_factory.encoded_video(tmp_path / "a.mp4", seconds=2, fps=12)
    black = tmp_path / "black.png"
    Image.new("RGB", (320, 180), (0, 0, 0)).save(black)
    dark = _still(black, tmp_path / "black.mp4")
    film = assemble([picture, dark, picture], tmp_path / "film.mp4", canvas=CANVAS)
    stretches = black_stretches(film.path)
    assert len(stretches) == 1
    start, end = stretches[0]
    assert abs(start - 2.0) < 0.15
    assert abs(end - 3.0) < 0.15
    assert [fact.black for fact in joins.join_facts(film.path, [2.0, 4.5])] == [True, False]


def _still(image: Path, out: Path) -> Path:
    """A one-second clip of a still picture, with a tone."""
    from fractions import Fraction

    import av
    from PIL import Image

    with av.open(str(out), "w") as container, Image.open(image) as picture:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for index in range(12):
            frame = av.VideoFrame.from_image(picture.convert("RGB"))  # type: ignore[no-untyped-call]
            frame.pts, frame.time_base = index, Fraction(1, 12)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out
