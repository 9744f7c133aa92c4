"""Every failure a user can meet comes back as a clear tool error, and no failure pays twice."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

from happyhorse_mcp.config import Settings
from happyhorse_mcp.fal.queue import default_http_client
from happyhorse_mcp.server import create_server

from ..fakefal import VALID_KEY, FakeFal, Fault
from ..prices import CLIP_USD, usd
from ..support import FAST_FOLLOW, NO_BACKOFF, make_server, shared_tls, text_of

pytestmark = pytest.mark.anyio

PROMPT = {"prompt": "a horse in the rain", "duration": 3, "resolution": "720p"}


@pytest.fixture
async def keyless_client(settings: Settings) -> AsyncIterator[Client]:
    server = make_server(dataclasses.replace(settings, fal_key=None))
    async with Client(server) as client:
        yield client


async def test_without_a_key_generation_says_to_set_fal_key_and_sends_nothing(
    keyless_client: Client, fake: FakeFal
) -> None:
    result = await keyless_client.call_tool("generate_video", PROMPT)
    assert result.is_error
    assert "FAL_KEY" in text_of(result)
    assert fake.requests == []


async def test_estimate_cost_needs_no_key(keyless_client: Client, fake: FakeFal) -> None:
    result = await keyless_client.call_tool("estimate_cost", {"operation": "generate_video"})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["usd"] == CLIP_USD
    assert fake.requests == []


async def test_an_invalid_key_is_reported_as_such(settings: Settings, fake: FakeFal) -> None:
    server = make_server(dataclasses.replace(settings, fal_key=SecretStr("wrong:key")))
    async with Client(server) as client:
        result = await client.call_tool("generate_video", PROMPT)
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["error"]["type"] == "invalid_key"
    assert "FAL_KEY" in text_of(result)
    assert "wrong:key" not in text_of(result)


async def test_no_balance_says_to_top_up(client: Client, fake: FakeFal) -> None:
    fake.balance_exhausted = True
    result = await client.call_tool("generate_video", PROMPT)
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["error"]["type"] == "no_balance"
    assert "Top up" in text_of(result)
    assert "fal.ai/dashboard/billing" in text_of(result)


async def test_fal_validation_errors_pass_on_the_field_and_message(client: Client, fake: FakeFal) -> None:
    fake.outcomes.append("validation")
    result = await client.call_tool("image_to_video", {"image_url": "https://example.com/tiny.png"})
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["error"]["type"] == "validation_error"
    assert "image_url: Image too small" in text_of(result)
    assert result.structured_content["cost_usd"] == 0


async def test_a_422_at_submit_passes_on_fal_s_field_and_message(client: Client, fake: FakeFal) -> None:
    detail = b'{"detail": [{"loc": ["body", "prompt"], "msg": "Prompt is not allowed", "type": "value_error"}]}'
    fake.fail_next("submit", Fault(status=422, body=detail))
    result = await client.call_tool("generate_video", PROMPT)
    assert result.is_error
    assert "prompt: Prompt is not allowed" in text_of(result)


async def test_a_content_policy_refusal_says_to_rephrase(client: Client, fake: FakeFal) -> None:
    fake.outcomes.append("content_policy")
    result = await client.call_tool("generate_video", PROMPT)
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["status"] == "failed"
    assert result.structured_content["error"]["type"] == "content_policy_violation"
    assert "Rephrase" in text_of(result)


async def test_an_infrastructure_failure_at_fal_is_reported_with_its_type(client: Client, fake: FakeFal) -> None:
    fake.outcomes.append("infra_error")
    result = await client.call_tool("generate_video", PROMPT)
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["error"]["type"] == "request_timeout"


async def test_a_rate_limited_submit_is_retried_and_submitted_once(client: Client, fake: FakeFal) -> None:
    fake.fail_next("submit", Fault(status=429, body=b'{"detail": "Too many requests"}', headers={"Retry-After": "0"}))
    result = await client.call_tool("generate_video", PROMPT)
    assert not result.is_error, text_of(result)
    assert fake.calls("submit") == 2
    assert len(fake.submits) == 1


async def test_a_rate_limit_that_persists_is_a_clear_error(client: Client, fake: FakeFal) -> None:
    fake.fail_next("submit", Fault(status=429, body=b'{"detail": "Too many requests"}'), times=3)
    result = await client.call_tool("generate_video", PROMPT)
    assert result.is_error
    assert "rate-limiting" in text_of(result)
    assert fake.submits == []


async def test_a_submit_answered_with_a_server_error_is_not_resent(client: Client, fake: FakeFal) -> None:
    fake.fail_next("submit", Fault(status=500))
    result = await client.call_tool("generate_video", PROMPT)
    assert result.is_error
    assert "HTTP 500" in text_of(result)
    assert fake.calls("submit") == 1


async def test_a_submit_whose_answer_is_unreadable_is_unknown_and_never_resent(client: Client, fake: FakeFal) -> None:
    fake.fail_next("submit", Fault(kind="malformed", accept=True))
    result = await client.call_tool("generate_video", PROMPT)
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["status"] == "unknown"
    assert "fal.ai/dashboard/requests" in text_of(result)
    assert fake.calls("submit") == 1
    assert len(fake.submits) == 1


class _AnswerLost(httpx.AsyncBaseTransport):
    """Delivers the first submit to fal, then loses the answer as a read time-out would."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport(verify=shared_tls())
        self.lost = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method == "POST" and not self.lost:
            self.lost = True
            await response.aclose()
            raise httpx.ReadTimeout("timed out", request=request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.mark.real_sockets
async def test_a_submit_that_times_out_after_reaching_fal_is_never_resent(settings: Settings, fake: FakeFal) -> None:
    def lossy_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=_AnswerLost())

    server = create_server(settings, http_client_factory=lossy_client, retry=NO_BACKOFF, follow=FAST_FOLLOW)
    async with Client(server) as client:
        result = await client.call_tool("generate_video", PROMPT)
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["status"] == "unknown"
    assert "not sent again" in text_of(result)
    assert fake.calls("submit") == 1


async def test_a_connection_refused_submit_is_retried_and_then_reported(tmp_path: Path) -> None:
    with anyio_socket_closed_port() as port:
        settings = Settings(
            fal_key=SecretStr(VALID_KEY),
            queue_url=f"http://127.0.0.1:{port}",
            data_dir=tmp_path,
        )
        async with Client(make_server(settings)) as client:
            result = await client.call_tool("generate_video", PROMPT)
    assert result.is_error
    assert "Could not connect" in text_of(result)
    assert "nothing was submitted" in text_of(result)


async def test_status_reads_survive_server_errors(client: Client, fake: FakeFal) -> None:
    fake.fail_next("stream", Fault(status=503))
    fake.fail_next("status", Fault(status=503), times=2)
    result = await client.call_tool("generate_video", PROMPT)
    assert not result.is_error, text_of(result)
    assert fake.calls("status") >= 3
    assert len(fake.submits) == 1


async def test_a_dropped_status_stream_falls_back_to_polling(client: Client, fake: FakeFal) -> None:
    fake.fail_next("stream", Fault(kind="early_close"))
    result = await client.call_tool("generate_video", PROMPT)
    assert not result.is_error, text_of(result)
    assert fake.calls("stream") == 1
    assert fake.calls("status") >= 1


async def test_result_reads_are_retried_after_server_errors(client: Client, fake: FakeFal) -> None:
    fake.fail_next("result", Fault(status=502), times=2)
    result = await client.call_tool("generate_video", PROMPT)
    assert not result.is_error, text_of(result)
    assert fake.calls("result") == 3


async def _finished_after_fal_forgot_its_result(client: Client, fake: FakeFal) -> CallToolResult:
    """A held job whose result fal's queue drops (its hour past) as it completes, as get_job then reports it."""
    first = await client.call_tool("generate_video", {**PROMPT, "wait_seconds": 0})
    assert first.structured_content is not None
    fake.expire(fake.submits[0].request_id)
    fake.complete(fake.submits[0].request_id)
    with anyio.fail_after(5):
        final = await client.call_tool("get_job", {"job_id": first.structured_content["job_id"], "wait_seconds": 30})
    assert final.structured_content is not None
    return final


async def test_an_expired_result_fal_keeps_no_record_of_is_unknown_may_be_billed_with_where_to_look(
    client: Client, fake: FakeFal
) -> None:
    fake.hold = True
    fake.platform_payloads = False
    final = await _finished_after_fal_forgot_its_result(client, fake)
    assert final.structured_content["status"] == "unknown"
    assert final.structured_content["error"]["type"] == "outcome_unknown"
    assert "may have been billed" in text_of(final)
    assert "fal.ai/dashboard/requests" in text_of(final)
    # The run finished, so fal billed it.
    assert final.structured_content["cost_usd"] == usd(duration=3, resolution="720p")
    assert fake.platform_lookups == 1, "fal's platform record was asked first"


async def test_a_result_fal_s_queue_forgot_is_read_from_fal_s_platform_record_and_the_job_completes(
    client: Client, fake: FakeFal
) -> None:
    # fal's queue keeps a result an hour; its platform API keeps the request's record, output included, 90 days.
    fake.hold = True
    final = await _finished_after_fal_forgot_its_result(client, fake)
    assert final.structured_content["status"] == "completed", text_of(final)
    assert final.structured_content["video"]["url"].endswith("/output.mp4")
    assert fake.platform_lookups == 1
    assert len(fake.submits) == 1, "never submitted again"


async def test_an_unknown_job_id_is_a_tool_error_pointing_to_list_jobs(client: Client) -> None:
    for tool in ("get_job", "cancel_job"):
        result = await client.call_tool(tool, {"job_id": "hh_0000000000000000"})
        assert result.is_error
        assert "No job 'hh_0000000000000000'" in text_of(result)
        assert "list_jobs" in text_of(result)


async def test_the_key_never_appears_in_any_answer(client: Client, fake: FakeFal) -> None:
    fake.outcomes.extend(["content_policy", "validation", "infra_error"])
    answers = [await client.call_tool("generate_video", PROMPT) for _ in range(4)]
    answers.append(await client.call_tool("get_job", {"job_id": "nope"}))
    listed = await client.list_resources()
    everything = repr(answers) + repr(listed)
    assert VALID_KEY not in everything
    assert "fake-key-secret" not in everything


def test_settings_repr_hides_the_key() -> None:
    settings = Settings(fal_key=SecretStr(VALID_KEY))
    assert VALID_KEY not in repr(settings)
    assert "fake-key-secret" not in str(settings)


class anyio_socket_closed_port:
    """A loopback port with nothing listening on it."""

    def __enter__(self) -> int:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._port = int(sock.getsockname()[1])
        sock.close()
        return self._port

    def __exit__(self, *exc: object) -> None:
        return None


def test_default_http_client_never_follows_redirects() -> None:
    async def check() -> None:
        async with default_http_client() as http:
            assert not http.follow_redirects

    anyio.run(check)


async def test_a_key_without_a_colon_is_called_malformed_in_the_tool_error_before_anything_reaches_fal(
    settings: Settings, fake: FakeFal
) -> None:
    server = make_server(dataclasses.replace(settings, fal_key=SecretStr("pastedhalfakey"), fal_key_source="FAL_KEY"))
    async with Client(server) as client:
        result = await client.call_tool("generate_video", PROMPT)

    assert result.is_error
    assert "FAL_KEY: it is malformed: a fal key is key-id:key-secret, with a ':' between the two" in text_of(result)
    assert "Nothing was sent to fal" in text_of(result)
    assert "pastedhalfakey" not in text_of(result)
    assert fake.requests == [], "known before the network"


async def test_the_example_s_placeholder_key_says_to_put_a_real_one_before_anything_reaches_fal(
    settings: Settings, fake: FakeFal
) -> None:
    placeholder = SecretStr("your-fal-key-id:your-fal-key-secret")
    server = make_server(dataclasses.replace(settings, fal_key=placeholder, fal_key_source="FAL_KEY"))
    async with Client(server) as client:
        result = await client.call_tool("generate_video", PROMPT)

    assert result.is_error
    assert "FAL_KEY: it is still the example's placeholder" in text_of(result)
    assert fake.requests == [], "known before the network"
