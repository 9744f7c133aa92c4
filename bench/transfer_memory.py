"""Peak memory growth while uploading a 100 MB local video to fal storage and downloading a 100 MB result.

    .venv/bin/python bench/transfer_memory.py [--mb 100]

The fake fal runs in its own process (it keeps what it receives in memory), so the figures are this process's
alone: the server's upload and download code paths, FalStorage.upload and VideoDownloader.save.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio
import httpx
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import media_factory
from tests.fakefal import VALID_KEY

from happyhorse_mcp.domain.catalog import VIDEO_RULE
from happyhorse_mcp.fal.download import VideoDownloader
from happyhorse_mcp.fal.storage import FalStorage
from happyhorse_mcp.files.media import check_local


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def big_video(path: Path, mb: int) -> Path:
    media_factory.video(path, seconds=10)
    with path.open("ab") as f:  # pad the mdat-free tail: the container header stays valid
        f.truncate(mb * 1024 * 1024)
    return path


async def main(mb: int) -> None:
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakefal", "--video-mb", str(mb)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert fake.stdout is not None
        url = fake.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            clip = check_local("video_url", str(big_video(folder / "big.mp4", mb)), [folder], VIDEO_RULE)
            async with httpx.AsyncClient() as http:
                storage = FalStorage(http, rest_url=url, cdn_url=url, key=SecretStr(VALID_KEY))
                before = peak_rss_mb()
                uploaded = await storage.upload(clip)
                upload_growth = peak_rss_mb() - before

                # A finished video of the same size, as fal would serve it.
                submit = await http.post(
                    f"{url}/alibaba/happy-horse/text-to-video",
                    json={"prompt": "bench"},
                    headers={"Authorization": f"Key {VALID_KEY}"},
                )
                request_id = submit.json()["request_id"]
                result = await http.get(
                    f"{url}/alibaba/happy-horse/requests/{request_id}", headers={"Authorization": f"Key {VALID_KEY}"}
                )
                video_url = result.json()["video"]["url"]
                downloader = VideoDownloader(
                    http, extra_hosts=[url], max_bytes=(mb + 1) * 1024 * 1024, timeout_seconds=300
                )
                before = peak_rss_mb()
                saved = await downloader.save(video_url, folder / "out.mp4")
                download_growth = peak_rss_mb() - before
        print(f"upload   {mb} MB -> {uploaded.rsplit('/', 1)[-1]}: peak RSS growth {upload_growth:.1f} MB")
        print(f"download {saved.size / 1024 / 1024:.0f} MB: peak RSS growth {download_growth:.1f} MB")
    finally:
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    anyio.run(main, parser.parse_args().mb)
