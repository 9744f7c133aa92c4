"""Saving a finished video: a download cut off by a crash leaves nothing behind once the video is saved, and a folder
the server may not write names that as the problem."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from happyhorse_mcp.fal.download import VideoDownloader, folder_problem
from happyhorse_mcp.fal.queue import default_http_client

from ...fakefal import FakeFal
from ...fakefal.app import FAKE_VIDEO
from ...support import InProcessTransport

pytestmark = pytest.mark.anyio

BASE = "http://fal.test"


@pytest.fixture
async def downloader(fake: FakeFal) -> AsyncIterator[VideoDownloader]:
    fake.uploads["abc/output.mp4"] = FAKE_VIDEO
    async with anyio.create_task_group() as tg, default_http_client(InProcessTransport(fake.app, tg)) as http:
        yield VideoDownloader(http, extra_hosts=[BASE], max_bytes=10_000_000, timeout_seconds=10)
        tg.cancel_scope.cancel()


async def test_a_part_file_left_by_a_killed_download_is_gone_once_the_video_is_saved(
    downloader: VideoDownloader, tmp_path: Path
) -> None:
    url = f"{BASE}/files/abc/output.mp4"
    destination = tmp_path / "hh_1.mp4"
    stale = tmp_path / f".hh_1.mp4.{hashlib.sha256(url.encode()).hexdigest()[:12]}.part"
    stale.write_bytes(FAKE_VIDEO[:100])  # what a SIGKILL mid-download leaves
    saved = await downloader.save(url, destination)
    assert saved.path.read_bytes() == FAKE_VIDEO
    assert sorted(os.listdir(tmp_path)) == ["hh_1.mp4"]


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (errno.EACCES, "may not write there"),
        (errno.EROFS, "may not write there"),
        (errno.ENOSPC, "the disk is full"),
        (errno.ENOTDIR, "a symbolic link or a file stands in its path"),
        (errno.ELOOP, "a symbolic link or a file stands in its path"),
    ],
)
def test_a_folder_that_cannot_take_the_video_is_named_for_what_is_wrong(code: int, said: str) -> None:
    assert said in folder_problem(OSError(code, os.strerror(code)))
