"""Finished videos from fal's media hosts back to disk or memory: https only, size-capped, time-limited, atomic."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import anyio
import anyio.to_thread
import httpx

from ..domain.errors import DownloadError
from .hosts import FAL_MEDIA_DOMAIN, is_fal_media

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
MAX_REDIRECTS = 3


def _open_folder(folder: Path) -> int:
    """A descriptor of the absolute `folder`, reached without following any symbolic link; missing parts are made."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in folder.parts[1:]:
            try:
                inner = os.open(part, flags, dir_fd=fd)
            except FileNotFoundError:
                os.mkdir(part, 0o755, dir_fd=fd)
                inner = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = inner
    except OSError as exc:
        os.close(fd)
        raise DownloadError(f"Not saving into {folder}: {folder_problem(exc)} Nothing was written.") from exc
    return fd


def folder_problem(exc: OSError) -> str:
    """Why a folder cannot take a file, in the user's terms."""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"this server may not write there ({exc.strerror}); choose a folder it can write to."
    if exc.errno == errno.ENOSPC:
        return "the disk is full; free some space."
    if exc.errno in (errno.ENOTDIR, errno.ELOOP):
        return (
            "it is no longer the folder that was checked (a symbolic link or a file stands in its path now: "
            f"{exc.strerror})."
        )
    return f"it cannot be used ({exc.strerror})."


def _create(folder: int, name: str) -> int:
    return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=folder)


def _write_all(fd: int, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view) :]


def _place(folder: int, partial: str, name: str) -> str:
    """Link the finished file in as `name`, or `stem (2).mp4` and so on when that exists; never replaces a file."""
    stem, dot, suffix = name.rpartition(".")
    for n in range(1, 1000):
        candidate = name if n == 1 else f"{stem} ({n}){dot}{suffix}"
        try:
            os.link(partial, candidate, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
        except FileExistsError:
            continue
        return candidate
    raise DownloadError(f"No free name for {name} in its folder.")


@dataclass(frozen=True)
class SavedVideo:
    path: Path
    sha256: str
    size: int
    device: int
    inode: int


async def place_new(destination: Path, tag: str, fill: Callable[[int], Awaitable[tuple[str, int]]]) -> SavedVideo:
    """Have `fill` write a file into `destination`'s folder (returning its sha256 and size), then give it
    `destination`'s name, or a free one if that exists.

    Never overwrites a file, and never writes through a symbolic link: the folder is reached one component at a time
    without following links (missing folders are made), so a folder swapped for a link since the call was checked is
    refused, and the file is created new (O_EXCL) and linked into place only where no file stands. `tag` names the
    partial file, so one cut off by a crash is the same file the next try replaces.
    """
    folder = await anyio.to_thread.run_sync(_open_folder, destination.parent)
    partial = f".{destination.name}.{tag}.part"
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial, dir_fd=folder)
        fd = await anyio.to_thread.run_sync(_create, folder, partial)
        try:
            digest, size = await fill(fd)
            info = os.fstat(fd)
        finally:
            os.close(fd)
        name = await anyio.to_thread.run_sync(_place, folder, partial, destination.name)
    except OSError as exc:
        raise DownloadError(f"The video could not be written to {destination.parent}: {folder_problem(exc)}") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(partial, dir_fd=folder)
        os.close(folder)
    return SavedVideo(destination.with_name(name), digest, size, info.st_dev, info.st_ino)


async def copy_into(source: Path, destination: Path) -> SavedVideo:
    """A local file (a film assembled here) saved as `destination` by the same rules as a download."""

    def copy(fd: int) -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        with source.open("rb") as file:
            while chunk := file.read(CHUNK_BYTES):
                digest.update(chunk)
                _write_all(fd, chunk)
                size += len(chunk)
        return digest.hexdigest(), size

    return await place_new(destination, source.stem, lambda fd: anyio.to_thread.run_sync(copy, fd))


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
        if not is_fal_media(url) and (parts.scheme, parts.netloc) not in self._extra:
            raise DownloadError(
                f"Refusing to download {url!r}: only https URLs on fal's media hosts (*.{FAL_MEDIA_DOMAIN}) or "
                "hosts named in HAPPYHORSE_DOWNLOAD_HOSTS are fetched."
            )

    async def save(self, url: str, destination: Path) -> SavedVideo:
        """Stream `url` into `destination`'s folder, then give it `destination`'s name, or a free one if that exists
        (see `place_new`)."""
        tag = hashlib.sha256(url.encode()).hexdigest()[:12]
        return await place_new(destination, tag, lambda fd: self.fetch_into(url, fd))

    @contextlib.contextmanager
    def _bounded(self, doing: str) -> Iterator[None]:
        """Every transfer from fal's media host: cut off after `timeout_seconds`, its failures named."""
        try:
            with anyio.fail_after(self.timeout_seconds):
                yield
        except TimeoutError as exc:
            raise DownloadError(f"{doing} took longer than {self.timeout_seconds:.0f} s.") from exc
        except httpx.HTTPError as exc:
            raise DownloadError(f"{doing} from fal's media host broke off ({type(exc).__name__}).") from exc

    async def read(self, url: str, limit: int | None = None) -> bytes:
        """The whole video in memory, for a blob resource; refused above `limit` (default `max_bytes`)."""
        cap = min(limit, self.max_bytes) if limit is not None else self.max_bytes
        with self._bounded("Reading the video"):
            async with self._stream(url) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    body.extend(chunk)
                    if len(body) > cap:
                        raise DownloadError(f"The video is larger than {cap} bytes; not read.")
                return bytes(body)

    async def fetch_into(self, url: str, fd: int) -> tuple[str, int]:
        """Stream `url` into the open file `fd`: its sha256 and size. Time-limited and size-capped like every
        download; OSError when the file cannot be written."""
        with self._bounded("Downloading the video"):
            return await self._fetch(url, fd)

    async def _fetch(self, url: str, fd: int) -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        async with self._stream(url) as response:
            declared = response.headers.get("content-length")  # of the body as sent, before any decoding
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                size += len(chunk)
                if size > self.max_bytes:
                    raise DownloadError(
                        f"The video is larger than {self.max_bytes} bytes (HAPPYHORSE_MAX_DOWNLOAD_MB); "
                        "download stopped."
                    )
                digest.update(chunk)
                await anyio.to_thread.run_sync(_write_all, fd, chunk)
            received = response.num_bytes_downloaded
        if declared is not None and declared.isdigit() and int(declared) != received:
            raise DownloadError(f"The download was cut short ({received} of {declared} bytes).")
        return digest.hexdigest(), size

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
