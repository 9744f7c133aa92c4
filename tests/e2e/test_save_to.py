"""save_to and the saved copy: a user's file is never overwritten, nothing is written or served through a link."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import BlobResourceContents, ListRootsResult, Root

from happyhorse_mcp.config import Settings

from ..fakefal import FakeFal
from ..fakefal.app import FAKE_VIDEO
from ..support import make_server, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def server_settings(settings: Settings, allowed: Path) -> Settings:
    return dataclasses.replace(settings, allowed_dirs=(allowed,))


async def test_save_to_an_existing_file_is_refused_before_anything_is_submitted(
    server_settings: Settings, fake: FakeFal, allowed: Path
) -> None:
    mine = allowed / "holiday.mp4"
    mine.write_bytes(b"my own video")
    async with Client(make_server(server_settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "a horse", "save_to": str(mine)})
    assert result.is_error
    assert "already exists" in text_of(result)
    assert mine.read_bytes() == b"my own video"
    assert fake.submits == []


async def test_two_jobs_saving_to_one_name_never_overwrite_each_other_and_each_checksum_is_right(
    server_settings: Settings, fake: FakeFal, allowed: Path
) -> None:
    target = allowed / "take.mp4"
    fake.hold = True
    async with Client(make_server(server_settings)) as client:
        calls = {"prompt": "a horse", "save_to": str(target), "wait_seconds": 0}
        first = (await client.call_tool("generate_video", calls)).structured_content
        second = (await client.call_tool("generate_video", calls)).structured_content
        assert first is not None
        assert second is not None
        for job in fake.submits:
            fake.complete(job.request_id)
        done = []
        for job in (first, second):
            with anyio.fail_after(5):
                result = await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 30})
            assert result.structured_content is not None
            done.append(result.structured_content["local_file"])
    paths = {Path(saved["path"]).name for saved in done}
    assert paths == {"take.mp4", "take (2).mp4"}
    renamed = next(saved for saved in done if saved["path"].endswith("(2).mp4"))
    assert "already existed" in renamed["note"]
    for saved in done:
        assert hashlib.sha256(await anyio.Path(saved["path"]).read_bytes()).hexdigest() == saved["sha256"]


async def test_a_folder_swapped_for_a_symbolic_link_while_fal_works_is_not_written_through(
    server_settings: Settings, fake: FakeFal, allowed: Path, tmp_path: Path
) -> None:
    clips = allowed / "clips"
    clips.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    fake.hold = True
    async with Client(make_server(server_settings)) as client:
        started = await client.call_tool(
            "generate_video", {"prompt": "a horse", "save_to": str(clips), "wait_seconds": 0}
        )
        assert started.structured_content is not None, text_of(started)
        clips.rmdir()
        clips.symlink_to(outside, target_is_directory=True)
        fake.complete(fake.submits[0].request_id)
        with anyio.fail_after(5):
            result = await client.call_tool(
                "get_job", {"job_id": started.structured_content["job_id"], "wait_seconds": 30}
            )
    job = result.structured_content
    assert job is not None
    assert (job["status"], job["local_file"]) == ("completed", None)
    assert "no longer the folder that was checked" in job["download_error"]
    assert list(outside.iterdir()) == []


async def test_a_saved_copy_replaced_by_a_link_is_never_served_the_video_comes_from_fal(
    server_settings: Settings, fake: FakeFal, allowed: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "shadow"
    secret.write_bytes(b"root:secret-hash")
    async with Client(make_server(server_settings)) as client:
        made = await client.call_tool("generate_video", {"prompt": "a horse", "save_to": str(allowed)})
        assert made.structured_content is not None, text_of(made)
        saved = anyio.Path(made.structured_content["local_file"]["path"])
        await saved.unlink()
        await saved.symlink_to(secret)
        read = await client.read_resource(made.structured_content["resource_uri"] + "/video")
    blob = read.contents[0]
    assert isinstance(blob, BlobResourceContents)
    assert base64.b64decode(blob.blob) == FAKE_VIDEO


async def test_a_relative_save_to_starts_at_the_client_s_first_root_and_makes_missing_folders(
    settings: Settings, fake: FakeFal, allowed: Path
) -> None:
    async def roots(context: Any) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=allowed.as_uri(), name="project")])

    async with Client(make_server(settings), list_roots_callback=roots) as client:
        result = await client.call_tool("generate_video", {"prompt": "a horse", "save_to": "./clips/intro.mp4"})
    assert result.structured_content is not None, text_of(result)
    saved = allowed / "clips" / "intro.mp4"
    assert result.structured_content["local_file"]["path"] == str(saved)
    assert saved.read_bytes() == FAKE_VIDEO


async def test_a_relative_save_to_without_client_roots_says_to_give_an_absolute_path(
    server_settings: Settings, fake: FakeFal
) -> None:
    async with Client(make_server(server_settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "a horse", "save_to": "clips/intro.mp4"})
    assert result.is_error
    assert "absolute path" in text_of(result)
    assert fake.submits == []


async def test_a_missing_folder_outside_every_allowed_folder_is_refused(
    server_settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    async with Client(make_server(server_settings)) as client:
        result = await client.call_tool(
            "generate_video", {"prompt": "a horse", "save_to": str(tmp_path / "elsewhere" / "new" / "x.mp4")}
        )
    assert result.is_error
    assert "outside every allowed folder" in text_of(result)
    assert not await anyio.Path(tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("saved", [True, False], ids=["saved-copy", "fal-only"])
async def test_a_video_too_big_for_one_message_is_pointed_to_not_read_into_memory(
    server_settings: Settings, fake: FakeFal, allowed: Path, saved: bool
) -> None:
    from happyhorse_mcp.server.resources import MAX_RESOURCE_VIDEO_BYTES

    fake.video_bytes = b"\0" * (MAX_RESOURCE_VIDEO_BYTES + 1)
    asked = {"prompt": "a horse", **({"save_to": str(allowed)} if saved else {})}
    async with Client(make_server(server_settings)) as client:
        made = await client.call_tool("generate_video", asked)
        assert made.structured_content is not None, text_of(made)
        job_id, url = made.structured_content["job_id"], made.structured_content["video"]["url"]
        fetched_before = fake.downloads
        with pytest.raises(Exception, match="a resource read carries") as refused:
            await client.read_resource(f"happyhorse://jobs/{job_id}/video")
    assert ((allowed / f"{job_id}.mp4").as_uri() if saved else url) in str(refused.value)
    assert fake.downloads == fetched_before
