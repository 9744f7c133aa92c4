"""fal's own Python client (fal-client, already a dependency) against the fake fal: what the tests trust the fake
for (every money promise) is what fal's client expects of fal. fal-client reads its hosts at import and speaks
https only, so the test points its module's URLs at the fake's loopback address."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest

from ..fakefal import VALID_KEY, FakeFal

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]

ENDPOINT = "alibaba/happy-horse/text-to-video"


@pytest.fixture
async def fal_client_at(fal_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[object]:
    from fal_client import client

    monkeypatch.setattr(client, "QUEUE_URL_FORMAT", f"{fal_url}/")
    monkeypatch.setattr(client, "REST_URL", fal_url)
    monkeypatch.setattr(client, "CDN_URL", fal_url)
    made = client.AsyncClient(key=VALID_KEY)
    yield made
    if "_client" in vars(made):  # the connection pool fal-client opened and keeps (it has no close of its own)
        await (await made._client).aclose()


async def test_fal_s_client_submits_reads_status_with_logs_and_gets_the_result(
    fal_client_at: object, fake: FakeFal
) -> None:
    fake.run_seconds = 0.05
    handle = await fal_client_at.submit(ENDPOINT, arguments={"prompt": "a horse", "duration": 3})  # type: ignore[attr-defined]
    status = await handle.status(with_logs=True)
    assert type(status).__name__ in ("Queued", "InProgress", "Completed")
    with anyio.fail_after(10):
        seen = [type(event).__name__ async for event in handle.iter_events(with_logs=True, interval=0.01)]
        result = await handle.get()
    assert seen[-1] in ("InProgress", "Completed") or seen == []
    assert result["video"]["url"].endswith("/output.mp4")
    assert fake.submits[0].arguments == {"prompt": "a horse", "duration": 3}


async def test_a_job_left_alone_finishes_on_its_own_clock(fal_client_at: object, fake: FakeFal) -> None:
    fake.queue_seconds, fake.run_seconds = 5, 5
    handle = await fal_client_at.submit(ENDPOINT, arguments={"prompt": "a horse"})  # type: ignore[attr-defined]
    (job,) = fake.submits
    job.next_transition = time.monotonic() - 20  # submitted 25 s ago and nobody polled: queue and run are over
    assert type(await handle.status()).__name__ == "Completed"


async def test_fal_s_client_cancels_a_queued_job(fal_client_at: object, fake: FakeFal) -> None:
    fake.hold = True
    handle = await fal_client_at.submit(ENDPOINT, arguments={"prompt": "a horse"})  # type: ignore[attr-defined]
    await handle.cancel()
    assert fake.submits[0].cancelled


@pytest.mark.parametrize("repository", ["fal_v3", "fal"], ids=["cdn-v3", "initiate-and-put"])
async def test_fal_s_client_uploads_a_file_either_way(fal_client_at: object, fake: FakeFal, repository: str) -> None:
    url = await fal_client_at.upload(  # type: ignore[attr-defined]
        b"\x89PNG picture", "image/png", "horse.png", repository=repository
    )
    assert url.endswith("/horse.png")
    assert b"\x89PNG picture" in fake.uploads.values()
