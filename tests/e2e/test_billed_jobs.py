"""A job fal billed is never recorded as failed at no cost: how following a job ends under each fault."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import TextResourceContents
from pydantic import SecretStr

from happyhorse_mcp.config import Settings

from ..fakefal import ADMIN_KEY, FakeFal, Fault
from ..prices import usd
from ..support import make_server, text_of

pytestmark = pytest.mark.anyio

PROMPT = {"prompt": "a horse in the rain", "duration": 3, "resolution": "720p"}
BILLED = usd(duration=3, resolution="720p")
FAL_REFUSES = Fault(status=403, body=b'{"detail": "User is locked. Reason: Admin lock"}')
MODEL_ERROR = Fault(
    status=500,
    body=json.dumps({"detail": [{"loc": ["body"], "msg": "The model crashed", "type": "model_error"}]}).encode(),
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "videos"
    made.mkdir()
    return made


@pytest.fixture
async def saving_client(settings: Settings, folder: Path) -> AsyncIterator[Client]:
    async with Client(make_server(dataclasses.replace(settings, allowed_dirs=(folder,)))) as client:
        yield client


async def _ends(client: Client, **arguments: Any) -> dict[str, Any]:
    with anyio.fail_after(10):
        result = await client.call_tool("generate_video", {**PROMPT, "wait_seconds": 30, **arguments})
    job: dict[str, Any] | None = result.structured_content
    assert job is not None, text_of(result)
    return job


@pytest.mark.parametrize(
    "fault", [Fault(kind="reset"), Fault(kind="short_body"), Fault(status=500)], ids=["reset", "short body", "500"]
)
async def test_a_download_that_fails_keeps_the_job_completed_with_its_cost_and_video_url(
    saving_client: Client, fake: FakeFal, folder: Path, fault: Fault
) -> None:
    fake.fail_next("download", fault)
    job = await _ends(saving_client, save_to=str(folder))
    assert (job["status"], job["cost_usd"]) == ("completed", BILLED)
    assert job["video"]["url"]
    assert "was not saved" in job["download_error"]
    assert job["local_file"] is None
    assert [p async for p in anyio.Path(folder).iterdir()] == [], "no partial file is left behind"


async def test_a_download_redirected_to_a_host_not_allowed_keeps_the_job_completed(
    saving_client: Client, fake: FakeFal, folder: Path
) -> None:
    fake.download_redirect = "https://attacker.example/video.mp4"
    job = await _ends(saving_client, save_to=str(folder))
    assert (job["status"], job["cost_usd"]) == ("completed", BILLED)
    assert "Refusing to download" in job["download_error"]


@pytest.mark.parametrize("route", ["status", "stream", "result"])
async def test_one_refusal_of_the_key_while_following_is_waited_out_and_the_job_completes(
    client: Client, fake: FakeFal, route: str
) -> None:
    if route == "status":
        fake.fail_next("stream", Fault(kind="early_close"))
    fake.fail_next(route, Fault(status=401, body=b'{"detail": "Invalid authentication credentials"}'))  # type: ignore[arg-type]
    job = await _ends(client)
    assert (job["status"], job["cost_usd"]) == ("completed", BILLED)
    assert len(fake.submits) == 1


async def test_a_refusal_that_persists_while_following_ends_unknown_may_be_billed_never_failed(
    client: Client, fake: FakeFal
) -> None:
    fake.fail_next("result", FAL_REFUSES, times=50)
    job = await _ends(client)
    assert (job["status"], job["cost_usd"]) == ("unknown", BILLED)
    assert job["error"]["type"] == "outcome_unknown"
    assert job["fal_request_id"] in job["error"]["message"]


async def test_a_model_error_returned_as_a_plain_5xx_with_a_detail_list_ends_failed_unbilled_with_fal_s_words(
    client: Client, fake: FakeFal
) -> None:
    fake.fail_next("result", MODEL_ERROR, times=50)
    job = await _ends(client)
    assert (job["status"], job["cost_usd"]) == ("failed", 0.0)
    assert job["error"]["type"] == "model_error"
    assert "The model crashed" in job["error"]["message"]
    assert fake.calls("result") <= 3, "a model's own failure is not retried for an hour"


async def test_a_completed_status_carrying_an_error_ends_failed_unbilled_without_retrying_the_result(
    client: Client, fake: FakeFal
) -> None:
    fake.outcomes.append("infra_error")  # status COMPLETED with error "Request timed out" / request_timeout
    fake.fail_next("result", Fault(status=502), times=50)
    job = await _ends(client)
    assert (job["status"], job["cost_usd"]) == ("failed", 0.0)
    assert job["error"]["type"] == "request_timeout"
    assert "Request timed out" in job["error"]["message"]


async def test_a_status_this_server_does_not_know_ends_unknown_after_a_bounded_wait(
    client: Client, fake: FakeFal
) -> None:
    fake.fail_next("stream", Fault(kind="early_close"))
    fake.fail_next("status", Fault(status=200, body=b'{"status": "PAUSED"}'), times=50)
    job = await _ends(client)
    assert (job["status"], job["cost_usd"]) == ("unknown", BILLED)
    assert fake.calls("status") < 50


async def test_a_result_without_a_video_is_unknown_may_be_billed_with_fal_s_request_id(
    client: Client, fake: FakeFal
) -> None:
    fake.fail_next("result", Fault(status=200, body=b'{"seed": 7}'))
    job = await _ends(client)
    assert (job["status"], job["cost_usd"]) == ("unknown", BILLED)
    assert job["fal_request_id"] in job["error"]["message"]
    assert "may have been billed" in job["error"]["message"]


async def test_a_content_policy_refusal_at_the_result_ends_failed_unbilled(client: Client, fake: FakeFal) -> None:
    fake.outcomes.append("content_policy")
    job = await _ends(client)
    assert (job["status"], job["cost_usd"]) == ("failed", 0.0)
    assert job["error"]["type"] == "content_policy_violation"


async def test_an_endless_status_event_is_dropped_as_a_broken_stream_and_the_job_completes_by_polling(
    client: Client, fake: FakeFal
) -> None:
    fake.fail_next("stream", Fault(kind="endless_event"))
    job = await _ends(client)
    assert (job["status"], job["cost_usd"]) == ("completed", BILLED)
    assert fake.calls("status") >= 1


async def test_a_request_fal_no_longer_knows_while_following_ends_unknown_not_failed(
    client: Client, fake: FakeFal
) -> None:
    fake.fail_next("stream", Fault(kind="early_close"))
    fake.fail_next("status", Fault(status=404, body=b'{"detail": "Request not found"}'))
    job = await _ends(client)
    assert (job["status"], job["cost_usd"]) == ("unknown", BILLED)
    assert "no longer knows" in job["error"]["message"]


async def test_with_an_admin_key_a_job_shows_what_fal_billed_beside_its_estimate(
    settings: Settings, fake: FakeFal
) -> None:
    fake.bill = round(BILLED + 0.05, 2)
    admin = dataclasses.replace(settings, fal_admin_key=SecretStr(ADMIN_KEY))
    async with Client(make_server(admin)) as client:
        job = await _ends(client)
        assert job["billed_usd"] is None or job["billed_usd"] == fake.bill  # read once fal has billed it
        with anyio.fail_after(10):
            while True:  # each call yields to the server, whose reconciler reads the bill meanwhile
                shown = await client.call_tool("get_job", {"job_id": job["job_id"]})
                assert shown.structured_content is not None
                if shown.structured_content["billed_usd"] is not None:
                    break
        listed = await client.call_tool("list_jobs", {})
        (report,) = (await client.read_resource("happyhorse://spend")).contents
    assert isinstance(report, TextResourceContents)
    spend = json.loads(report.text)
    assert spend["today_usd"] == fake.bill  # the budgets count the bill
    assert spend["counted"].startswith("what fal billed where read")
    assert shown.structured_content["billed_usd"] == fake.bill
    assert f"(USD {BILLED:.2f} estimated; fal billed USD {fake.bill:.2f})" in text_of(shown)
    assert f"USD {BILLED:.2f} estimated; fal billed USD {fake.bill:.2f}" in text_of(listed)
    assert listed.structured_content is not None
    assert [job["billed_usd"] for job in listed.structured_content["jobs"]] == [fake.bill]


@pytest.mark.parametrize(
    ("outcome", "billed"),
    [("content_policy", round(BILLED / 2, 2)), ("infra_error", None)],
    ids=["422 billed", "5xx never billed"],
)
async def test_with_an_admin_key_a_failed_job_shows_a_bill_only_where_fal_billed_it(
    settings: Settings, fake: FakeFal, outcome: str, billed: float | None
) -> None:
    fake.outcomes.append(outcome)  # type: ignore[arg-type]
    fake.bill_failed = round(BILLED / 2, 2)  # what fal charges a failed run it bills at all
    admin = dataclasses.replace(settings, fal_admin_key=SecretStr(ADMIN_KEY))
    async with Client(make_server(admin)) as client:
        job = await _ends(client)
        with anyio.fail_after(10):
            while True:  # each call yields to the server, whose reconciler asks fal meanwhile
                shown = await client.call_tool("get_job", {"job_id": job["job_id"]})
                assert shown.structured_content is not None
                if shown.structured_content["billed_usd"] is not None or (fake.billing_reads and billed is None):
                    break  # the bill recorded, or fal asked and answered with none
    assert fake.billing_reads == [[job["fal_request_id"]]]
    assert (shown.structured_content["status"], shown.structured_content["billed_usd"]) == ("failed", billed)
    said = f"fal billed USD {billed:.2f} for it." if billed else "fal billed"
    assert (said in text_of(shown)) == bool(billed)
