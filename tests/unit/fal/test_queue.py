"""fal's queue as this server speaks to it, against canned answers: a submit is sent again only when fal clearly did
not take it, reads are retried, and each answer is read for what it means."""

from __future__ import annotations

import ssl
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from happyhorse_mcp.config.tls import tls_context
from happyhorse_mcp.domain.errors import ProtocolError, SubmitUncertainError, UpstreamError
from happyhorse_mcp.fal.credentials import KeyCredentials
from happyhorse_mcp.fal.queue import FalQueue, RetryPolicy, default_http_client

pytestmark = pytest.mark.anyio

ENDPOINT = "alibaba/happy-horse/v1.1/text-to-video"
NO_WAIT = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0)


def _queue(answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> FalQueue:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return FalQueue(
        http, queue_url="https://queue.test", credentials=KeyCredentials(SecretStr("id:secret")), retry=NO_WAIT
    )


async def test_a_submit_that_never_connected_is_sent_again_and_its_receipt_read() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if len(seen) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"request_id": "r1", "queue_position": 3})

    receipt = await _queue(answer, seen).submit(ENDPOINT, {"prompt": "a horse"})
    assert (receipt.request_id, receipt.queue_position) == ("r1", 3)
    assert len(seen) == 2
    assert seen[1].url == f"https://queue.test/{ENDPOINT}"
    assert seen[1].headers["authorization"] == "Key id:secret"


async def test_a_submit_whose_answer_was_lost_is_never_sent_again() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection lost", request=request)

    with pytest.raises(SubmitUncertainError, match="was not sent again"):
        await _queue(answer, seen).submit(ENDPOINT, {"prompt": "a horse"})
    assert len(seen) == 1


async def test_a_submit_refused_with_429_is_sent_again_but_one_answered_500_is_not() -> None:
    seen: list[httpx.Request] = []
    answers = [httpx.Response(429, headers={"retry-after": "0"}), httpx.Response(200, json={"request_id": "r2"})]
    assert (await _queue(lambda _: answers.pop(0), seen).submit(ENDPOINT, {})).request_id == "r2"
    assert len(seen) == 2

    seen.clear()
    with pytest.raises(UpstreamError):
        await _queue(lambda _: httpx.Response(500, json={"detail": "boom"}), seen).submit(ENDPOINT, {})
    assert len(seen) == 1


async def test_an_accepted_submit_whose_answer_cannot_be_read_is_uncertain_not_resent() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(SubmitUncertainError, match="could not be read"):
        await _queue(lambda _: httpx.Response(200, content=b"<html>"), seen).submit(ENDPOINT, {})
    assert len(seen) == 1


async def test_reads_name_only_owner_and_app_and_are_retried_through_5xx() -> None:
    seen: list[httpx.Request] = []
    answers = [httpx.Response(503), httpx.Response(200, json={"status": "IN_QUEUE", "queue_position": 0})]
    status = await _queue(lambda _: answers.pop(0), seen).status(ENDPOINT, "r1")
    assert (status.status, status.queue_position) == ("IN_QUEUE", 0)
    assert [str(r.url) for r in seen] == ["https://queue.test/alibaba/happy-horse/requests/r1/status?logs=1"] * 2


async def test_a_cancel_fal_answers_400_was_too_late_and_any_success_was_asked() -> None:
    seen: list[httpx.Request] = []
    assert await _queue(lambda _: httpx.Response(400), seen).cancel(ENDPOINT, "r1") == "already_completed"
    assert await _queue(lambda _: httpx.Response(202), seen).cancel(ENDPOINT, "r1") == "cancellation_requested"
    assert {r.method for r in seen} == {"PUT"}


async def test_a_result_that_is_not_a_json_object_is_a_protocol_error() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(ProtocolError, match="not a JSON object"):
        await _queue(lambda _: httpx.Response(200, json=[1, 2]), seen).result(ENDPOINT, "r1")


def test_retry_after_wins_over_backoff_and_both_are_capped() -> None:
    policy = RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0)
    assert policy.delay(0, 3.0) == 3.0
    assert policy.delay(0, 60.0) == 8.0
    assert 0.25 <= policy.delay(0, None) <= 0.5
    assert 4.0 <= policy.delay(10, None) <= 8.0


async def test_every_client_for_fal_shares_one_tls_context_that_verifies_certificates() -> None:
    async with default_http_client() as first, default_http_client() as second:
        contexts = {id(client._transport._pool._ssl_context) for client in (first, second)}  # type: ignore[attr-defined]
    assert contexts == {id(tls_context())}
    assert tls_context().verify_mode == ssl.CERT_REQUIRED
    assert tls_context().check_hostname
