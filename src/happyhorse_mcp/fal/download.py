"""Finished videos from fal's media hosts back to disk or memory: https only, size-capped, time-limited, atomic."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import anyio
import anyio.to_thread
import httpx

from ..domain.errors import DownloadError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
MAX_REDIRECTS = 3
FAL_MEDIA_DOMAIN = "fal.media"


@dataclass(frozen=True)
class SavedVideo:
    path: Path
    sha256: str
    size: int


class VideoDownloader:
    """Fetch a finished video from fal's media hosts to disk: https only, size-capped, time-limited, atomic."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        extra_hosts: list[str],
        max_bytes: int,
        timeout_seconds: float,
    ) -> None:
        self._http = http
        # A configured URL (the CDN setting, HAPPYHORSE_DOWNLOAD_HOSTS) allows its host, with its own scheme.
        self._extra = {(urlsplit(u).scheme, urlsplit(u).netloc) for u in extra_hosts}
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        fal_host = parts.scheme == "https" and (host == FAL_MEDIA_DOMAIN or host.endswith("." + FAL_MEDIA_DOMAIN))
        if not fal_host and (parts.scheme, parts.netloc) not in self._extra:
            raise DownloadError(
                f"Refusing to download {url!r}: only https URLs on fal's media hosts (*.{FAL_MEDIA_DOMAIN}) or "
                "hosts named in HAPPYHORSE_DOWNLOAD_HOSTS are fetched."
            )

    async def save(self, url: str, destination: Path) -> SavedVideo:
        """Stream `url` to a temporary file beside `destination`, then rename it into place."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.part")
        try:
            with anyio.fail_after(self.timeout_seconds):
                saved = await self._fetch(url, partial)
            await anyio.to_thread.run_sync(os.replace, partial, destination)
        except TimeoutError as exc:
            raise DownloadError(f"Downloading the video took longer than {self.timeout_seconds:.0f} s.") from exc
        finally:
            if partial.exists():
                partial.unlink()
        return SavedVideo(destination, saved.sha256, saved.size)

    async def read(self, url: str) -> bytes:
        """The whole video in memory, for a blob resource; refused above `max_bytes`."""
        with anyio.fail_after(self.timeout_seconds):
            async with self._stream(url) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    body.extend(chunk)
                    if len(body) > self.max_bytes:
                        raise DownloadError(f"The video is larger than {self.max_bytes} bytes; not read.")
                return bytes(body)

    async def _fetch(self, url: str, partial: Path) -> SavedVideo:
        digest, size = hashlib.sha256(), 0
        async with self._stream(url) as response, await anyio.open_file(partial, "wb") as out:
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                size += len(chunk)
                if size > self.max_bytes:
                    raise DownloadError(
                        f"The video is larger than {self.max_bytes} bytes (HAPPYHORSE_MAX_DOWNLOAD_MB); "
                        "download stopped."
                    )
                digest.update(chunk)
                await out.write(chunk)
        return SavedVideo(partial, digest.hexdigest(), size)

    def _stream(self, url: str) -> _Stream:
        return _Stream(self, url)


class _Stream:
    """GET with redirects followed by hand, each hop checked against the allowed hosts."""

    def __init__(self, downloader: VideoDownloader, url: str) -> None:
        self._downloader = downloader
        self._url = url
        self._response: httpx.Response | None = None

    async def __aenter__(self) -> httpx.Response:
        url = self._url
        http = self._downloader._http
        for _ in range(MAX_REDIRECTS + 1):
            self._downloader.check_url(url)
            request = http.build_request("GET", url)
            response = await http.send(request, stream=True, follow_redirects=False)
            if response.is_redirect:
                await response.aclose()
                url = urljoin(url, response.headers.get("location", ""))
                continue
            if not response.is_success:
                await response.aclose()
                raise DownloadError(f"fal's media host answered HTTP {response.status_code} for the video.")
            declared = int(response.headers.get("content-length") or 0)
            if declared > self._downloader.max_bytes:
                await response.aclose()
                raise DownloadError(
                    f"The video is larger than {self._downloader.max_bytes} bytes ({declared} bytes; "
                    "HAPPYHORSE_MAX_DOWNLOAD_MB)."
                )
            self._response = response
            return response
        raise DownloadError(f"Too many redirects fetching {self._url!r}.")

    async def __aexit__(self, *exc: object) -> None:
        if self._response is not None:
            await self._response.aclose()
