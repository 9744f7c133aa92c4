"""Local files in and out, and the attacks the checks stop. Each refusal sends nothing to fal."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import BlobResourceContents, ListRootsResult, ResourceLink, Root

from happyhorse_mcp.config import Settings
from happyhorse_mcp.server import HappyHorseServer

from .. import media_factory
from ..fakefal import FakeFal
from ..fakefal.app import FAKE_VIDEO
from ..prices import dollars, usd
from ..support import make_server, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def _with(settings: Settings, **changes: Any) -> HappyHorseServer:
    return make_server(dataclasses.replace(settings, **changes))


@pytest.fixture
async def files_client(settings: Settings, allowed: Path) -> AsyncIterator[Client]:
    async with Client(_with(settings, allowed_dirs=(allowed,))) as client:
        yield client


async def test_a_local_image_inside_an_allowed_folder_arrives_intact_at_fal_storage(
    files_client: Client, fake: FakeFal, allowed: Path
) -> None:
    picture = media_factory.image(allowed / "horse.png", 800, 600)
    result = await files_client.call_tool("image_to_video", {"image_url": str(picture)})

    assert not result.is_error, text_of(result)
    (stored,) = fake.uploads.items() - {k: v for k, v in fake.uploads.items() if k.endswith("output.mp4")}.items()
    assert stored[1] == picture.read_bytes()
    assert stored[0].endswith("/horse.png")
    assert fake.submits[0].arguments["image_url"].endswith(stored[0])
    assert fake.upload_headers[0]["content-type"] == "image/png"
    assert "Uploaded to fal's storage, where each is a public URL: image_url (horse.png)." in text_of(result)


async def test_tilde_and_file_urls_name_local_files_too(
    files_client: Client, fake: FakeFal, allowed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(allowed))
    media_factory.image(allowed / "a.png")
    media_factory.image(allowed / "b.jpg", kind="JPEG")
    result = await files_client.call_tool(
        "reference_to_video",
        {"prompt": "character1 and character2", "image_urls": ["~/a.png", (allowed / "b.jpg").as_uri()]},
    )
    assert not result.is_error, text_of(result)
    sent = fake.submits[0].arguments["image_urls"]
    assert all("/files/" in url for url in sent)  # fal storage URLs, not the local paths


async def test_with_no_allowed_folder_local_paths_are_refused_saying_how_to_allow_one(
    client: Client, fake: FakeFal, allowed: Path
) -> None:
    picture = media_factory.image(allowed / "horse.png")
    result = await client.call_tool("image_to_video", {"image_url": str(picture)})
    assert result.is_error
    assert "HAPPYHORSE_ALLOWED_DIRS" in text_of(result)
    assert fake.requests == []


async def test_dotdot_traversal_out_of_the_allowed_folder_is_refused(
    files_client: Client, fake: FakeFal, allowed: Path, outside: Path
) -> None:
    media_factory.image(outside / "secret.png")
    sneaky = f"{allowed}/../outside/secret.png"
    result = await files_client.call_tool("image_to_video", {"image_url": sneaky})
    assert result.is_error
    assert "outside every allowed folder" in text_of(result)
    assert fake.requests == []


async def test_a_symlink_escaping_the_allowed_folder_is_refused(
    files_client: Client, fake: FakeFal, allowed: Path, outside: Path
) -> None:
    media_factory.image(outside / "secret.png")
    (allowed / "innocent.png").symlink_to(outside / "secret.png")
    result = await files_client.call_tool("image_to_video", {"image_url": str(allowed / "innocent.png")})
    assert result.is_error
    assert "outside every allowed folder" in text_of(result)
    assert fake.requests == []


async def test_a_path_outside_every_root_is_refused(files_client: Client, fake: FakeFal, outside: Path) -> None:
    picture = media_factory.image(outside / "elsewhere.png")
    result = await files_client.call_tool("image_to_video", {"image_url": str(picture)})
    assert result.is_error
    assert "outside every allowed folder" in text_of(result)
    assert fake.requests == []


async def test_a_fifo_is_refused_without_blocking(files_client: Client, fake: FakeFal, allowed: Path) -> None:
    os.mkfifo(allowed / "pipe.png")
    result = await files_client.call_tool("image_to_video", {"image_url": str(allowed / "pipe.png")})
    assert result.is_error
    assert "not a regular file" in text_of(result)
    assert fake.requests == []


async def test_a_device_is_refused(files_client: Client, fake: FakeFal, allowed: Path) -> None:
    try:
        os.mknod(allowed / "zero.png", stat.S_IFCHR | 0o600, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    result = await files_client.call_tool("image_to_video", {"image_url": str(allowed / "zero.png")})
    assert result.is_error
    assert "not a regular file" in text_of(result)


async def test_an_oversized_file_is_refused_before_it_is_read(
    files_client: Client, fake: FakeFal, allowed: Path
) -> None:
    big = allowed / "huge.png"
    with big.open("wb") as f:
        f.truncate(11 * 1024 * 1024)
    result = await files_client.call_tool("image_to_video", {"image_url": str(big)})
    assert result.is_error
    assert "at most 10 MB" in text_of(result)
    assert fake.requests == []


async def test_a_file_whose_extension_lies_about_its_type_is_refused(
    files_client: Client, fake: FakeFal, allowed: Path
) -> None:
    (allowed / "notes.png").write_text("AWS_SECRET_ACCESS_KEY=hunter2\n")
    result = await files_client.call_tool("image_to_video", {"image_url": str(allowed / "notes.png")})
    assert result.is_error
    assert "whatever its name says" in text_of(result)
    assert fake.requests == []


async def test_a_local_source_video_prices_the_edit_by_its_own_length(
    settings: Settings, fake: FakeFal, allowed: Path
) -> None:
    clip = media_factory.video(allowed / "ride.mp4", seconds=10)
    price = usd("edit_video", source_duration=10)
    async with Client(_with(settings, allowed_dirs=(allowed,))) as client:
        edit = {"video_url": str(clip), "prompt": "night"}
        too_low = await client.call_tool("edit_video", {**edit, "max_cost_usd": round(price - 0.01, 2)})
        enough = await client.call_tool("edit_video", {**edit, "max_cost_usd": price})
    assert too_low.is_error
    assert dollars(price) in text_of(too_low)
    assert not enough.is_error, text_of(enough)
    assert len(fake.submits) == 1


async def test_client_roots_allow_a_folder_on_both_protocol_eras(
    settings: Settings, fake: FakeFal, allowed: Path
) -> None:
    picture = media_factory.image(allowed / "horse.png")

    async def roots(context: Any) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=allowed.as_uri(), name="work")])

    for mode in ("legacy", "2026-07-28"):
        async with Client(make_server(settings), mode=mode, list_roots_callback=roots) as client:
            result = await client.call_tool("image_to_video", {"image_url": str(picture)})
        assert not result.is_error, text_of(result)
    assert len(fake.submits) == 2


async def test_the_finished_video_is_saved_with_a_matching_checksum_and_a_file_link(
    files_client: Client, fake: FakeFal, allowed: Path
) -> None:
    target = allowed / "out" / "first.mp4"
    target.parent.mkdir()
    result = await files_client.call_tool("generate_video", {"prompt": "a horse", "save_to": str(target)})

    assert not result.is_error, text_of(result)
    saved = result.structured_content["local_file"]
    assert saved["path"] == str(target)
    assert saved["sha256"] == hashlib.sha256(FAKE_VIDEO).hexdigest() == hashlib.sha256(target.read_bytes()).hexdigest()
    (link,) = [c for c in result.content if isinstance(c, ResourceLink)]
    assert (str(link.uri), link.name) == (f"happyhorse://jobs/{result.structured_content['job_id']}/video", target.name)
    assert str(target) in text_of(result)
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".part")]


async def test_the_output_dir_receives_every_video_named_by_its_job(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    out = tmp_path / "videos"
    async with Client(_with(settings, output_dir=out)) as client:
        result = await client.call_tool("generate_video", {"prompt": "a horse"})
    job_id = result.structured_content["job_id"]
    assert (out / f"{job_id}.mp4").read_bytes() == FAKE_VIDEO


async def test_save_to_outside_every_root_is_refused(files_client: Client, fake: FakeFal, outside: Path) -> None:
    result = await files_client.call_tool("generate_video", {"prompt": "a horse", "save_to": str(outside / "x.mp4")})
    assert result.is_error
    assert "outside every allowed folder" in text_of(result)
    assert fake.requests == []


async def test_a_redirect_to_another_host_on_download_is_not_followed(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    fake.download_redirect = "https://attacker.example/steal.mp4"
    out = tmp_path / "videos"
    async with Client(_with(settings, output_dir=out)) as client:
        result = await client.call_tool("generate_video", {"prompt": "a horse"})
    assert result.structured_content is not None
    assert result.structured_content["status"] == "completed"
    assert "Refusing to download 'https://attacker.example/steal.mp4'" in result.structured_content["download_error"]
    assert not out.exists() or not any(out.iterdir())


async def test_an_oversized_download_is_stopped_and_leaves_no_file(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    out = tmp_path / "videos"
    async with Client(_with(settings, output_dir=out, max_download_bytes=100)) as client:
        result = await client.call_tool("generate_video", {"prompt": "a horse"})
    assert "larger than 100 bytes" in result.structured_content["download_error"]
    assert not any(out.iterdir())


async def test_the_video_resource_serves_the_bytes_and_refuses_above_the_cap(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    from mcp.shared.exceptions import MCPError

    async with Client(_with(settings, output_dir=tmp_path / "v")) as client:
        made = await client.call_tool("generate_video", {"prompt": "a horse"})
        uri = made.structured_content["resource_uri"] + "/video"
        read = await client.read_resource(uri)
    blob = read.contents[0]
    assert isinstance(blob, BlobResourceContents)
    assert blob.mime_type == "video/mp4"

    async with Client(_with(settings, max_download_bytes=100)) as client:
        made = await client.call_tool("generate_video", {"prompt": "a horse"})
        with pytest.raises(MCPError, match="above the 100 bytes a resource read carries"):
            await client.read_resource(made.structured_content["resource_uri"] + "/video")


async def test_a_local_source_s_own_length_prices_an_edit_and_a_contradicting_source_duration_is_refused(
    files_client: Client, fake: FakeFal, allowed: Path
) -> None:
    clip = media_factory.video(allowed / "eight.mp4", seconds=8.0)
    lied = await files_client.call_tool(
        "edit_video", {"video_url": str(clip), "prompt": "night", "source_duration": 3, "max_cost_usd": 20}
    )
    assert lied.is_error
    assert "lasts 8.0 s" in text_of(lied)
    assert fake.submits == []
    fake.hold = True
    priced = await files_client.call_tool(
        "edit_video", {"video_url": str(clip), "prompt": "night", "max_cost_usd": 5, "wait_seconds": 0}
    )
    assert priced.structured_content is not None, text_of(priced)
    # Priced on the 8 s the frames say, committed against the budget.
    assert priced.structured_content["cost_usd"] == usd("edit_video", source_duration=8)


async def test_a_retry_with_the_same_idempotency_key_and_a_local_file_returns_the_first_job(
    files_client: Client, fake: FakeFal, allowed: Path
) -> None:
    picture = media_factory.image(allowed / "still.png")
    call = {"image_url": str(picture), "duration": 3, "idempotency_key": "still-1"}
    first = await files_client.call_tool("image_to_video", call)
    again = await files_client.call_tool("image_to_video", call)
    assert first.structured_content is not None, text_of(first)
    assert again.structured_content is not None, text_of(again)
    assert again.structured_content["job_id"] == first.structured_content["job_id"]
    assert len(fake.submits) == 1
    assert len(fake.upload_headers) == 1


async def test_an_edit_source_whose_header_says_less_than_its_track_is_priced_by_its_track(
    settings: Settings, fake: FakeFal, allowed: Path
) -> None:
    clip = media_factory.encoded_video(allowed / "long.mp4", seconds=20, width=568, height=320, fps=4, audio=None)
    media_factory.with_header_seconds(clip, 3)
    async with Client(_with(settings, allowed_dirs=(allowed,))) as client:
        estimate = await client.call_tool(
            "estimate_cost", {"operation": "video-edit", "source_duration": 20, "resolution": "1080p"}
        )
        priced_by_header = await client.call_tool(
            "edit_video", {"video_url": str(clip), "prompt": "night", "max_cost_usd": 3.0}
        )
    assert priced_by_header.is_error
    assert f"USD {estimate.structured_content['usd']:.2f}" in text_of(priced_by_header)
    assert fake.submits == []
