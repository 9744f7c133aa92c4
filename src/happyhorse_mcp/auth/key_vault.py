"""Users' own fal keys at rest: sealed with AES-GCM (the `cryptography` package) under a key derived (HKDF-SHA256)
from a deployment secret (HAPPYHORSE_USER_KEYS_SECRET), bound to their owner (the associated data), so a sealed key
copied to another user's row does not open. Each sealed key records which secret sealed it: the first secret seals,
every one listed opens, so secrets rotate by putting a new one first and dropping the old once keys are re-entered.

The same secret signs the short-lived links of the page where a key is entered (`page_token`), so any replica can
check a link another made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..domain.principal import SealedKey as Sealed

PAGE_LINK_SECONDS = 600
_NONCE_BYTES = 12


class SealedKeyUnreadable(Exception):
    """A sealed key that no listed secret opens (its secret was dropped, or the row was tampered with)."""


def key_state(sealed: Sealed | None) -> str:
    """A short digest of a user's key as stored (each sealing is new), or "none"."""
    return hashlib.sha256(sealed.blob).hexdigest()[:16] if sealed is not None else "none"


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"happyhorse-mcp " + purpose).derive(
        secret.encode()
    )


class KeyVault:
    def __init__(self, secrets: tuple[str, ...]) -> None:
        if not secrets:
            raise ValueError("a vault needs at least one secret")
        self._keys = {}
        for secret in secrets:
            key = _derive(secret, b"user fal keys")
            self._keys[hashlib.sha256(key).hexdigest()[:12]] = AESGCM(key)
        self._sealing = next(iter(self._keys))
        self._links = AESGCM(_derive(secrets[0], b"key page links"))
        self._form = _derive(secrets[0], b"key page forms")

    def seal(self, owner: str, fal_key: str) -> Sealed:
        nonce = os.urandom(_NONCE_BYTES)
        blob = nonce + self._keys[self._sealing].encrypt(nonce, fal_key.encode(), owner.encode())
        return Sealed(self._sealing, blob)

    def open(self, owner: str, sealed: Sealed) -> str:
        cipher = self._keys.get(sealed.key_id)
        if cipher is None:
            raise SealedKeyUnreadable(
                f"sealed with secret {sealed.key_id}, which HAPPYHORSE_USER_KEYS_SECRET no longer lists"
            )
        try:
            nonce, body = sealed.blob[:_NONCE_BYTES], sealed.blob[_NONCE_BYTES:]
            return cipher.decrypt(nonce, body, owner.encode()).decode()
        except InvalidTag as exc:
            raise SealedKeyUnreadable("it does not open for its owner") from exc

    def sealed_with_an_older_secret(self, sealed: Sealed) -> bool:
        """Whether `sealed` opens only because an older secret is still listed: sealed again under the first, it
        no longer needs that secret (rotation finishes as keys are used)."""
        return sealed.key_id != self._sealing

    def page_token(self, owner: str, state: str, now: float | None = None) -> str:
        """A link token naming `owner`, good for PAGE_LINK_SECONDS, that only this deployment's secret makes.
        `state` is the owner's key as it stands (`key_state`): the link works only while it still stands so, so a
        key saved through it, or deleted since, ends it (one use, on any replica, with nothing kept)."""
        nonce = os.urandom(_NONCE_BYTES)
        until = (now or time.time()) + PAGE_LINK_SECONDS
        claims = json.dumps({"owner": owner, "until": until, "state": state}).encode()
        return base64.urlsafe_b64encode(nonce + self._links.encrypt(nonce, claims, b"page")).decode().rstrip("=")

    def page_owner(self, token: str, now: float | None = None) -> tuple[str, str] | None:
        """The owner a link token names and the key state it was made for, or None when it is forged, damaged or
        expired."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            claims = json.loads(self._links.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], b"page"))
        except (ValueError, InvalidTag):
            return None
        if not isinstance(claims, dict) or claims.get("until", 0) < (now or time.time()):
            return None
        owner, state = claims.get("owner"), claims.get("state")
        return (owner, state) if isinstance(owner, str) and isinstance(state, str) else None

    def form_token(self, link: str, browser: str) -> str:
        """What the page's form must send back: bound to the link and to the browser that loaded the page (a
        cookie), so a form posted from another site, or by another browser, is refused."""
        return hmac.new(self._form, f"{link}\n{browser}".encode(), hashlib.sha256).hexdigest()
