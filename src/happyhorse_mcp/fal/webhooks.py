"""fal's webhooks: the one POST fal makes when a request ends, believed only once its signature verifies.

fal signs `request_id + "\\n" + user_id + "\\n" + timestamp + "\\n" + sha256_hex(raw body)` with Ed25519; its public
keys are a JWKS (OKP keys, the key in `x`, base64url), read through the shared HTTP client, kept a day, and read again
when no key verifies a signature (fal rotated), at most once a minute so a stream of forgeries cannot make this
server hammer fal. A timestamp more than five minutes off is refused, so a recorded delivery cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import anyio
import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError

from .queue import CONNECT_TIMEOUT_SECONDS

logger = logging.getLogger(__name__)

MAX_SKEW_SECONDS = 300
KEYS_KEPT_SECONDS = 24 * 3600
KEYS_REREAD_FLOOR_SECONDS = 60
HEADER = "x-fal-webhook-"
MAX_BODY_BYTES = 4 * 1024 * 1024  # fal's output for a video is a few hundred bytes of JSON


class WebhookRejected(Exception):
    """A delivery this server does not believe or cannot place: answered with `status`, `reason` logged."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class WebhookEvent(BaseModel):
    """What fal says when a request ends: OK with its output as `payload` (None with `payload_error` when the output
    was not JSON), or ERROR with the model's error body as `payload` and fal's `error` text."""

    model_config = ConfigDict(extra="ignore")

    request_id: str
    gateway_request_id: str | None = None
    status: Literal["OK", "ERROR"]
    payload: Any = None
    error: str | None = None
    payload_error: str | None = None


class FalSigningKeys:
    """fal's webhook signing keys from its JWKS, kept `KEYS_KEPT_SECONDS`."""

    def __init__(self, http: httpx.AsyncClient, url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._http = http
        self._url = url
        self._clock = clock
        self._keys: list[Ed25519PublicKey] = []
        self._read_at: float | None = None
        self._lock = anyio.Lock()

    async def current(self) -> list[Ed25519PublicKey]:
        await self._read(older_than=KEYS_KEPT_SECONDS)
        return self._keys

    async def reread(self) -> list[Ed25519PublicKey] | None:
        """The keys read again (fal may have rotated them), or None when they were read less than a minute ago."""
        return self._keys if await self._read(older_than=KEYS_REREAD_FLOOR_SECONDS) else None

    async def _read(self, *, older_than: float) -> bool:
        """Read the keys when those kept are older than `older_than` seconds (or none were read); whether they were.
        Deliveries arriving together wait for one read."""
        async with self._lock:
            if self._read_at is not None and self._clock() - self._read_at < older_than:
                return False
            try:
                response = await self._http.get(self._url, timeout=httpx.Timeout(15.0, connect=CONNECT_TIMEOUT_SECONDS))
                response.raise_for_status()
                keys = [_public_key(jwk) for jwk in response.json().get("keys", [])]
            except (httpx.HTTPError, ValueError, AttributeError, TypeError) as exc:
                # Deliveries are refused meanwhile; fal delivers again, and the keys are read again then. What failed
                # is logged here, not told to whoever posted.
                self._read_at = self._clock() if self._keys else None
                logger.warning(
                    "fal's webhook signing keys could not be read from %s (%s)", self._url, type(exc).__name__
                )
                raise WebhookRejected(503, "fal's signing keys could not be read; deliver again") from exc
            self._keys = [key for key in keys if key is not None]
            self._read_at = self._clock()
            logger.info("read %d webhook signing key(s) from %s", len(self._keys), self._url)
            return True


def _public_key(jwk: Any) -> Ed25519PublicKey | None:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv", "Ed25519") != "Ed25519":
        return None
    try:
        raw = base64.urlsafe_b64decode(str(jwk["x"]) + "=" * (-len(str(jwk["x"])) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except (KeyError, ValueError, binascii.Error):
        return None


def signed_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    """What fal signs for one delivery."""
    return "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()


class WebhookVerifier:
    def __init__(self, keys: FalSigningKeys, *, clock: Callable[[], float] = time.time) -> None:
        self._keys = keys
        self._clock = clock

    async def verify(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """The event in `body`, once its headers' signature verifies over the raw bytes; WebhookRejected else."""
        lowered = {name.lower(): value for name, value in headers.items()}
        named = {name: lowered.get(HEADER + name) for name in ("request-id", "user-id", "timestamp", "signature")}
        if missing := [HEADER + name for name, value in named.items() if not value]:
            raise WebhookRejected(401, f"no {', '.join(missing)} header")
        request_id, user_id, timestamp, signature_hex = (str(value) for value in named.values())
        try:
            sent_at = int(timestamp)
        except ValueError as exc:
            raise WebhookRejected(401, f"timestamp {timestamp[:20]!r} is not a number") from exc
        if abs(self._clock() - sent_at) > MAX_SKEW_SECONDS:
            raise WebhookRejected(401, f"timestamp {sent_at} is more than {MAX_SKEW_SECONDS} s off this clock")
        try:
            signature = bytes.fromhex(signature_hex)
        except ValueError as exc:
            raise WebhookRejected(401, "the signature is not hex") from exc
        message = signed_message(request_id, user_id, timestamp, body)
        if not _verified(await self._keys.current(), signature, message):
            fresh = await self._keys.reread()
            if fresh is None or not _verified(fresh, signature, message):
                raise WebhookRejected(401, "no fal signing key verifies the signature")
        try:
            event = WebhookEvent.model_validate_json(body)
        except ValidationError as exc:
            raise WebhookRejected(400, "the body is not a fal webhook event") from exc
        if event.request_id != request_id:
            raise WebhookRejected(400, "the body's request id is not the signed one")
        return event


def _verified(keys: list[Ed25519PublicKey], signature: bytes, message: bytes) -> bool:
    for key in keys:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            continue
        return True
    return False
