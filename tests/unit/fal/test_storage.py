"""Uploads to fal storage against canned answers: a token first, then the file streamed with its checked size; a
connection that fails is tried again, a refusal is not, and a file that changed size since its check is not sent."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from happyhorse_mcp.domain.errors import InvalidMediaError, UpstreamError
from happyhorse_mcp.fal.credentials import KeyCredentials
from happyhorse_mcp.fal.storage import UPLOAD_ATTEMPTS, FalStorage

pytestmark = pytest.mark.anyio


@dataclass
class Checked:
    """A local file as files/media.py checks it: the size it had then."""

    path: Path
    size: int
    field: str = "image_url"
    content_type: str = "image/png"

    def open(self) -> int:
        return os.open(self.path, os.O_RDONLY)


def _storage(answer: object, seen: list[tuple[httpx.Request, bytes]]) -> FalStorage:
    async def handler(request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        seen.append((request, body))
        if request.url.path == "/storage/auth/token":
            return httpx.Response(200, json={"token": "t0k", "token_type": "Bearer"})
        return answer(request)  # type: ignore[operator,no-any-return]

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    credentials = KeyCredentials(SecretStr("id:secret"))
    return FalStorage(http, rest_url="https://rest.test", cdn_url="https://cdn.test", credentials=credentials)


def _file(tmp_path: Path, data: bytes = b"\x89PNG" + b"x" * 5000) -> Checked:
    path = tmp_path / "frame.png"
    path.write_bytes(data)
    return Checked(path, len(data))


async def test_a_file_is_streamed_with_its_checked_size_under_a_fresh_token(tmp_path: Path) -> None:
    seen: list[tuple[httpx.Request, bytes]] = []
    local = _file(tmp_path)
    url = await _storage(lambda _: httpx.Response(200, json={"access_url": "https://v3.fal.media/f.png"}), seen).upload(
        local
    )
    assert url == "https://v3.fal.media/f.png"
    (token, _), (upload, body) = seen
    assert token.headers["authorization"] == "Key id:secret"
    assert upload.headers["authorization"] == "Bearer t0k"
    assert upload.headers["x-fal-file-name"] == "frame.png"
    assert int(upload.headers["content-length"]) == local.size
    assert body == local.path.read_bytes()


async def test_a_connection_that_fails_is_tried_again_then_given_up_naming_the_file(tmp_path: Path) -> None:
    seen: list[tuple[httpx.Request, bytes]] = []

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(UpstreamError, match=r"Uploading frame\.png to fal failed"):
        await _storage(drop, seen).upload(_file(tmp_path))
    assert sum(1 for request, _ in seen if request.url.path == "/files/upload") == UPLOAD_ATTEMPTS


async def test_a_refused_upload_is_not_tried_again(tmp_path: Path) -> None:
    seen: list[tuple[httpx.Request, bytes]] = []
    with pytest.raises(UpstreamError, match=r"HTTP 413 while uploading frame\.png: Payload too large"):
        await _storage(lambda _: httpx.Response(413, json={"detail": "Payload too large"}), seen).upload(
            _file(tmp_path)
        )
    assert sum(1 for request, _ in seen if request.url.path == "/files/upload") == 1


async def test_a_file_that_grew_since_its_check_is_refused_not_sent_whole(tmp_path: Path) -> None:
    seen: list[tuple[httpx.Request, bytes]] = []
    local = _file(tmp_path)
    with local.path.open("ab") as grown:
        grown.write(b"more")
    with pytest.raises(InvalidMediaError, match="changed size after it was checked"):
        await _storage(lambda _: httpx.Response(200, json={"access_url": "x"}), seen).upload(local)
