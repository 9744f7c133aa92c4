"""review_video's words: each join of a film said clean, or named for what is wrong at it."""

from __future__ import annotations

from happyhorse_mcp.review.report import AudioReport, JoinReport, VideoReview, review_text


def _review(joins: list[JoinReport] | None) -> VideoReview:
    return VideoReview(
        job_id="hh_film",
        source="saved copy",
        file_size_bytes=2_000_000,
        duration_seconds=18.5,
        fps=24,
        width=1920,
        height=1080,
        codec="h264",
        audio=AudioReport(present=True, codec="aac", seconds=18.5, peak_dbfs=-1.0, mean_dbfs=-20.0, silent=False),
        frames_at_seconds=[0.0, 9.0],
        checks=[],
        matches_request=True,
        contact_sheet_uri="happyhorse://jobs/hh_film/contact-sheet",
        joins=joins,
    )


def test_a_film_s_joins_are_said_clean_or_named_for_what_is_wrong_at_them() -> None:
    joins = [
        JoinReport(at_seconds=4.75, black=False, silent=False, level_jump_lu=1.2, clean=True),
        JoinReport(at_seconds=9.25, black=True, silent=True, level_jump_lu=None, clean=False),
        JoinReport(at_seconds=13.0, black=False, silent=False, level_jump_lu=-9.5, clean=False),
    ]
    text = review_text(_review(joins))
    assert "Joins: at 0:04.8 clean; at 0:09.2 BLACK FRAMES, SILENCE; at 0:13.0 LEVEL JUMP -9.5 LU." in text


def test_a_single_clip_s_review_says_nothing_of_joins() -> None:
    assert "Joins" not in review_text(_review(None))
