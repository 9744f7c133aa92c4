"""The contact sheet's layout: sized for a model whatever the frame's shape, frames where the clip's seconds are."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from happyhorse_mcp.review.analysis import evenly_spaced
from happyhorse_mcp.review.sheet import LONG_SIDE, cell_size, columns, contact_sheet, timestamp


def test_evenly_spaced_moments_sit_in_the_middle_of_their_share_of_the_clip() -> None:
    assert evenly_spaced(3.0, 3) == [0.5, 1.5, 2.5]
    assert evenly_spaced(15.0, 1) == [7.5]


@pytest.mark.parametrize(
    ("frame", "count"),
    [((1920, 1080), 6), ((1080, 1920), 6), ((1080, 1080), 16), ((1920, 1080), 1), ((2560, 1080), 5)],
    ids=["16:9 x6", "9:16 x6", "1:1 x16", "16:9 x1", "21:9 x5"],
)
def test_a_sheet_s_long_side_is_close_to_1024_whatever_the_shape_and_count(frame: tuple[int, int], count: int) -> None:
    size = cell_size(*frame, count)
    frames = [(float(i), Image.new("RGB", size, (i * 10, 0, 0))) for i in range(count)]

    sheet = Image.open(io.BytesIO(contact_sheet(frames)))

    assert LONG_SIDE - 16 <= max(sheet.size) <= LONG_SIDE
    assert sheet.format == "JPEG"


def test_wide_frames_go_in_fewer_columns_than_tall_ones() -> None:
    assert columns(1920, 1080, 6) < columns(1080, 1920, 6)


def test_timestamps_read_as_minutes_and_tenths() -> None:
    assert timestamp(0.5) == "0:00.5"
    assert timestamp(75.25) == "1:15.2"


def test_a_file_size_reads_as_people_read_it() -> None:
    from happyhorse_mcp.review.report import file_size

    assert [file_size(n) for n in (512, 31_000, 2_500_000)] == ["512 bytes", "31 KB", "2.5 MB"]
