"""Local files to fal storage: a short-lived token, then one streamed POST per file, never read whole."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import anyio
import anyio.to_thread
import httpx

from ..domain.errors import InvalidMediaError, MissingKeyError, ProtocolError, UpstreamError
from .credentials import FalCredentials
from .errors import error_from_response

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
UPLOAD_ATTEMPTS = 3


class UploadSource(Protocol):
    """A checked local file: its argument, path, size and type as checked, and a way to open it again that refuses
    it if it was swapped since (files/media.py's LocalFile)."""

    @property
    def field(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def size(self) -> int: ...
    @property
    def content_type(self) -> str: ...
    def open(self) -> int: ...


class FalStorage:
    """fal's CDN storage: a short-lived token from the REST host, then one streamed POST per file."""

    def __init__(
        self, http: httpx.AsyncClient, *, rest_url: str, cdn_url: str, credentials: FalCredentials | None
    ) -> None:
        self._http = http
        self._rest_url = rest_url.rstrip("/")
        self._cdn_url = cdn_url.rstrip("/")
        self._credentials = credentials

    def signed_by(self, credentials: FalCredentials) -> FalStorage:
        """The same storage over the same connections, for another account."""
        return FalStorage(self._http, rest_url=self._rest_url, cdn_url=self._cdn_url, credentials=credentials)

    async def _token(self) -> str:
        if self._credentials is None:
            raise MissingKeyError()
        response = await self._http.post(
            f"{self._rest_url}/storage/auth/token",
            params={"storage_type": "fal-cdn-v3"},
            json={},
            headers={"Authorization": await self._credentials.authorization()},
        )
        if not response.is_success:
            raise error_from_response(
                response, doing="getting an upload token", when_refused=self._credentials.when_refused
            )
        try:
            body = response.json()
            return f"{body.get('token_type') or 'Bearer'} {body['token']}"
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError("fal's upload token answer could not be read.") from exc

    async def upload(self, local: UploadSource) -> str:
        """Upload a checked local file; returns its public fal URL."""
        authorization = await self._token()
        for attempt in range(UPLOAD_ATTEMPTS):
            fd = await anyio.to_thread.run_sync(local.open)
            try:
                response = await self._http.post(
                    f"{self._cdn_url}/files/upload",
                    content=_read_checked(fd, local),
                    headers={
                        "Authorization": authorization,
                        "Content-Type": local.content_type,
                        "Content-Length": str(local.size),
                        "X-Fal-File-Name": local.path.name,
                    },
                    timeout=httpx.Timeout(60.0, connect=10.0),
                )
            except httpx.HTTPError as exc:
                # An upload is free and repeatable: try again, then give up with the cause.
                if attempt + 1 == UPLOAD_ATTEMPTS:
                    raise UpstreamError(
                        f"Uploading {local.path.name} to fal failed ({type(exc).__name__}); try again."
                    ) from exc
                continue
            finally:
                os.close(fd)
            if response.is_success:
                try:
                    url = response.json()["access_url"]
                except (ValueError, KeyError, TypeError) as exc:
                    raise ProtocolError("fal's upload answer could not be read.") from exc
                logger.info("uploaded %s (%d bytes) for %s", local.path, local.size, local.field)
                return str(url)
            if response.status_code < 500 or attempt + 1 == UPLOAD_ATTEMPTS:
                raise error_from_response(response, doing=f"uploading {local.path.name}")
        raise AssertionError("unreachable: the loop returns or raises")


async def _read_checked(fd: int, local: UploadSource) -> AsyncIterator[bytes]:
    """The file's bytes, exactly as many as were checked: a file that grew or shrank since is refused, not sent."""
    left = local.size
    while left > 0:
        chunk = await anyio.to_thread.run_sync(os.read, fd, min(CHUNK_BYTES, left))
        if not chunk:
            break
        left -= len(chunk)
        yield chunk
    beyond: bytes = await anyio.to_thread.run_sync(os.read, fd, 1)
    if left or beyond:
        now = os.fstat(fd).st_size
        raise InvalidMediaError(
            f"{local.field}: {str(local.path)!r} changed size after it was checked ({local.size} bytes, now {now}); "
            "nothing was submitted. Wait until whatever writes it has finished, then call again."
        )
