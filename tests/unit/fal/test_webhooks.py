"""fal's webhook signatures, verified as fal's docs give them: Ed25519 over the request id, user id, timestamp and the
body's sha256, keys from a JWKS, five minutes of clock either way."""

from __future__ import annotations

import json
import time

import anyio
import httpx
import pytest

from happyhorse_mcp.fal.webhooks import FalSigningKeys, WebhookRejected, WebhookVerifier
from tests.fakefal.webhooks import Signer, event_body

JWKS_URL = "https://keys.test/.well-known/jwks.json"
pytestmark = pytest.mark.anyio

REQUEST_ID = "0f3c6a1e-1111-4222-8333-444455556666"


class Keys:
    """A JWKS endpoint serving `signers`' keys, counting its reads."""

    def __init__(self, *signers: Signer) -> None:
        self.signers = list(signers)
        self.reads = 0

    def client(self) -> httpx.AsyncClient:
        def answer(request: httpx.Request) -> httpx.Response:
            self.reads += 1
            return httpx.Response(200, json={"keys": [signer.jwk() for signer in self.signers]})

        return httpx.AsyncClient(transport=httpx.MockTransport(answer))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _body(request_id: str = REQUEST_ID) -> bytes:
    return event_body(request_id, 200, {"video": {"url": "https://v3.fal.media/files/x/output.mp4"}, "seed": 7})


async def _verifier(keys: Keys, clock: Clock | None = None) -> WebhookVerifier:
    return WebhookVerifier(FalSigningKeys(keys.client(), JWKS_URL, clock=clock or time.monotonic))


async def test_a_delivery_signed_by_fal_s_key_is_believed_and_read() -> None:
    signer = Signer()
    verifier = await _verifier(Keys(signer))
    body = _body()

    event = await verifier.verify(signer.headers(REQUEST_ID, body), body)

    assert (event.request_id, event.status, event.payload["seed"]) == (REQUEST_ID, "OK", 7)


async def test_any_key_of_the_jwks_may_have_signed_it() -> None:
    old, new = Signer(), Signer()
    verifier = await _verifier(Keys(old, new))
    body = _body()

    assert (await verifier.verify(new.headers(REQUEST_ID, body), body)).status == "OK"


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        ("tampered body", "no fal signing key verifies"),
        ("another key", "no fal signing key verifies"),
        ("301 s old", "more than 300 s off"),
        ("301 s ahead", "more than 300 s off"),
        ("garbage hex", "not hex"),
        ("timestamp not a number", "not a number"),
        ("another request id in the body", "not the signed one"),
        ("request id header changed", "no fal signing key verifies"),
    ],
)
async def test_a_spoiled_delivery_is_refused(spoil: str, reason: str) -> None:
    signer = Signer()
    verifier = await _verifier(Keys(signer))
    body = _body()
    headers = signer.headers(REQUEST_ID, body)
    now = int(time.time())
    match spoil:
        case "tampered body":
            body = body.replace(b"output.mp4", b"othered.mp4")
        case "another key":
            headers = Signer().headers(REQUEST_ID, body)
        case "301 s old":
            headers = signer.headers(REQUEST_ID, body, timestamp=now - 301)
        case "301 s ahead":
            headers = signer.headers(REQUEST_ID, body, timestamp=now + 301)
        case "garbage hex":
            headers["X-Fal-Webhook-Signature"] = "zz" * 64
        case "timestamp not a number":
            headers["X-Fal-Webhook-Timestamp"] = "yesterday"
        case "another request id in the body":
            body = _body("another-request")
            headers = signer.headers(REQUEST_ID, body)
        case "request id header changed":
            headers["X-Fal-Webhook-Request-Id"] = "another-request"

    with pytest.raises(WebhookRejected, match=reason) as refused:
        await verifier.verify(headers, body)
    assert refused.value.status in (400, 401)


@pytest.mark.parametrize(
    "header",
    ["X-Fal-Webhook-Request-Id", "X-Fal-Webhook-User-Id", "X-Fal-Webhook-Timestamp", "X-Fal-Webhook-Signature"],
)
async def test_a_delivery_without_one_of_fal_s_headers_is_refused(header: str) -> None:
    signer = Signer()
    verifier = await _verifier(Keys(signer))
    body = _body()
    headers = {name: value for name, value in signer.headers(REQUEST_ID, body).items() if name != header}

    with pytest.raises(WebhookRejected, match=f"no {header.lower()} header") as refused:
        await verifier.verify(headers, body)
    assert refused.value.status == 401


async def test_a_body_that_is_no_fal_event_is_refused_even_when_signed() -> None:
    signer = Signer()
    verifier = await _verifier(Keys(signer))
    body = json.dumps({"request_id": REQUEST_ID, "status": "MAYBE"}).encode()

    with pytest.raises(WebhookRejected, match="not a fal webhook event"):
        await verifier.verify(signer.headers(REQUEST_ID, body), body)


async def test_the_keys_are_read_once_a_day_and_again_when_fal_rotated_them_but_not_for_every_forgery() -> None:
    old, new = Signer(), Signer()
    keys, clock = Keys(old), Clock()
    verifier = await _verifier(keys, clock)
    body = _body()

    await verifier.verify(old.headers(REQUEST_ID, body), body)
    await verifier.verify(old.headers(REQUEST_ID, body), body)
    assert keys.reads == 1, "kept, not read for every delivery"

    clock.now += 61
    keys.signers = [new]  # fal rotated its key
    await verifier.verify(new.headers(REQUEST_ID, body), body)
    assert keys.reads == 2, "a signature no kept key verifies reads the keys again"

    for _ in range(5):
        with pytest.raises(WebhookRejected):
            await verifier.verify(Signer().headers(REQUEST_ID, body), body)
    assert keys.reads == 2, "forgeries within a minute of the last read do not read the keys again"

    clock.now += 24 * 3600 + 1
    await verifier.verify(new.headers(REQUEST_ID, body), body)
    assert keys.reads == 3, "read again after a day"


async def test_keys_that_cannot_be_read_refuse_the_delivery_for_fal_to_send_again() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    verifier = WebhookVerifier(FalSigningKeys(httpx.AsyncClient(transport=httpx.MockTransport(down)), JWKS_URL))
    signer = Signer()
    body = _body()

    with pytest.raises(WebhookRejected, match="could not be read") as refused:
        await verifier.verify(signer.headers(REQUEST_ID, body), body)
    assert refused.value.status == 503


async def test_deliveries_arriving_together_wait_for_one_read_of_the_keys() -> None:
    signer = Signer()
    keys = Keys(signer)
    verifier = await _verifier(keys)
    body = _body()

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(verifier.verify, signer.headers(REQUEST_ID, body), body)

    assert keys.reads == 1
