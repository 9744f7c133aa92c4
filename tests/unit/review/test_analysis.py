"""What a review reads from a file: moments evenly spread (each in the middle of its share), moments past the end
refused naming the last one there is, the sound's level or its absence, and a file that is not a video refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from happyhorse_mcp.domain.errors import UnreadableVideoError
from happyhorse_mcp.review.analysis import analyse, evenly_spaced

from ... import media_factory


def test_moments_are_each_in_the_middle_of_their_share_of_the_clip() -> None:
    assert evenly_spaced(3.0, 3) == [0.5, 1.5, 2.5]
    assert evenly_spaced(10.0, 4) == [1.25, 3.75, 6.25, 8.75]


def test_a_clip_s_facts_frames_and_sound_are_read(tmp_path: Path) -> None:
    clip = media_factory.encoded_video(tmp_path / "clip.mp4", seconds=3, fps=12, volume=0.5)
    with clip.open("rb") as file:
        facts = analyse(file, count=3, at_seconds=None)
    assert (facts.width, facts.height, facts.codec) == (320, 180, "h264")
    assert abs(facts.duration_seconds - 3) <= 0.1
    assert [moment for moment, _ in facts.frames] == [0.5, 1.5, 2.5]
    assert facts.audio is not None
    assert not facts.audio.silent
    quieter = media_factory.encoded_video(tmp_path / "quiet.mp4", seconds=3, fps=12, volume=0.05)
    with quieter.open("rb") as file:
        quiet = analyse(file, count=1, at_seconds=None).audio
    assert quiet is not None
    assert abs((facts.audio.mean_dbfs - quiet.mean_dbfs) - 20) <= 1.0, "a tenth of the amplitude: 20 dB down"


def test_a_silent_track_is_said_silent_and_a_missing_one_is_none(tmp_path: Path) -> None:
    silent = media_factory.encoded_video(tmp_path / "silent.mp4", seconds=3, audio="silence")
    mute = media_factory.encoded_video(tmp_path / "mute.mp4", seconds=3, audio=None)
    with silent.open("rb") as file:
        heard = analyse(file, count=2, at_seconds=None).audio
    assert heard is not None
    assert heard.silent
    with mute.open("rb") as file:
        assert analyse(file, count=2, at_seconds=None).audio is None


def test_moments_past_the_end_are_refused_naming_the_last_there_is(tmp_path: Path) -> None:
    clip = media_factory.encoded_video(tmp_path / "clip.mp4", seconds=3)
    with clip.open("rb") as file, pytest.raises(UnreadableVideoError, match="at_seconds 4 is past the end"):
        analyse(file, count=1, at_seconds=[1.0, 4.0])


def test_a_file_that_is_not_a_video_is_refused_in_plain_words(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_bytes(b"not a video at all" * 100)
    with text.open("rb") as file, pytest.raises(UnreadableVideoError, match="not a video that can be decoded"):
        analyse(file, count=1, at_seconds=None)
