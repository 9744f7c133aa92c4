"""fal's webhooks as the fake sends them: one signed POST when a request ends, retried on failure (fal: up to 10
times over 2 hours; here `retry_seconds` apart), in the form fal's docs give.

The signing key is the fake's own Ed25519 key, published as a JWKS at `/.well-known/jwks.json` on the fake.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

USER_ID = "fake-fal-user"
RETRIES = 10
_TLS = ssl.create_default_context()  # made once: a context per client costs ~30 ms, a stall for every other post


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=_TLS)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Signer:
    """An Ed25519 key, its JWKS, and fal's signature headers for a body."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.key_id = f"fake-{_b64url(self.public_bytes)[:8]}"

    @property
    def public_bytes(self) -> bytes:
        return self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(self.public_bytes), "kid": self.key_id, "use": "sig"}

    def headers(self, request_id: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        sent_at = str(int(time.time()) if timestamp is None else timestamp)
        message = "\n".join([request_id, USER_ID, sent_at, hashlib.sha256(body).hexdigest()]).encode()
        return {
            "Content-Type": "application/json",
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": USER_ID,
            "X-Fal-Webhook-Timestamp": sent_at,
            "X-Fal-Webhook-Signature": self.key.sign(message).hex(),
        }


def event_body(request_id: str, status: int, answer: dict[str, Any], *, payload_error: bool = False) -> bytes:
    """fal's webhook body for a request whose result would be (`status`, `answer`)."""
    body: dict[str, Any] = {"request_id": request_id, "gateway_request_id": request_id}
    if status == 200:
        body |= {"status": "OK", "payload": None if payload_error else answer}
        if payload_error:
            body["payload_error"] = "Response payload is not JSON serializable"
    else:
        body |= {"status": "ERROR", "error": f"Invalid status code: {status}", "payload": answer}
    return json.dumps(body).encode()


@dataclass
class Deliveries:
    """What the fake's webhooks did: each attempt as (request id, HTTP status, or the exception's name)."""

    signer: Signer = field(default_factory=Signer)
    retry_seconds: float = 0.02
    client: Callable[[], httpx.AsyncClient] = _client
    attempts: list[tuple[str, int | str]] = field(default_factory=list)
    payload_error: bool = False  # OK with no payload, as when a model's output is not JSON
    duplicates: int = 0  # the same event sent again this many times after it was taken
    jwks_reads: int = 0
    posted_at: dict[str, float] = field(default_factory=dict)  # wall clock when the post that was taken was sent
    _attempted: anyio.Event = field(default_factory=anyio.Event)

    async def until_taken(self, request_id: str, times: int = 1) -> None:
        """Wait until the receiver has taken `request_id`'s post `times` times."""
        with anyio.fail_after(10):
            while self.taken(request_id) < times:
                await self._attempted.wait()

    async def send(self, url: str, request_id: str, body: bytes) -> None:
        taken = 0
        async with self.client() as client:
            for _ in range(1 + RETRIES):
                sent_at = time.time()
                try:
                    answer = await client.post(url, content=body, headers=self.signer.headers(request_id, body))
                    outcome: int | str = answer.status_code
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                self.attempts.append((request_id, outcome))
                self._attempted.set()
                self._attempted = anyio.Event()
                if isinstance(outcome, int) and 200 <= outcome < 300:
                    self.posted_at.setdefault(request_id, sent_at)
                    taken += 1
                    if taken > self.duplicates:
                        return
                    continue
                await anyio.sleep(self.retry_seconds)

    def taken(self, request_id: str) -> int:
        return sum(1 for rid, outcome in self.attempts if rid == request_id and outcome == 200)
