"""Access tokens from an OAuth 2.1 authorization server (HAPPYHORSE_AUTH_ISSUER), validated here as JWTs: the
signature against the issuer's published keys (JWKS, found through its metadata, cached, fetched again when a token
names a key not seen yet), `exp`/`nbf` with a small leeway, `iss`, and `aud` = this server's resource URL
(HAPPYHORSE_RESOURCE_URL), so a token minted for another resource is refused. PyJWT does the cryptography.

Why a token was refused is logged (never the token); the client only learns that it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import jwt
from mcp.server.auth.provider import AccessToken

logger = logging.getLogger(__name__)

LEEWAY_SECONDS = 30
# Asymmetric algorithms only: a shared-secret (HS*) token could be forged by anyone holding the secret.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
# An unknown key id makes the keys be fetched again, but not more often than this: a flood of forged tokens must not
# become a flood of requests to the issuer.
REFETCH_SECONDS = 30.0
METADATA_PATHS = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")


class IssuerUnavailable(Exception):
    """The issuer's metadata or keys could not be read."""


class JwtVerifier:
    """The SDK's TokenVerifier for JWT access tokens of one issuer, for one resource."""

    def __init__(
        self,
        issuer: str,
        resource_url: str,
        *,
        http_client_factory: Callable[[], httpx.AsyncClient] = httpx.AsyncClient,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.resource_url = resource_url
        self._client_factory = http_client_factory
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = anyio.Lock()

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            return await self._verify(token)
        except jwt.PyJWTError as exc:
            logger.info("bearer token refused: %s", _why(exc))
        except IssuerUnavailable as exc:
            logger.warning("bearer token not checked: %s", exc)
        return None

    async def _verify(self, token: str) -> AccessToken:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not accepted")
        key = await self._key(header.get("kid"))
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=self.resource_url,
            issuer=self.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        scope = claims.get("scope")
        scopes = scope.split() if isinstance(scope, str) else list(claims.get("scp") or [])
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or claims["sub"]),
            scopes=[str(s) for s in scopes],
            expires_at=int(claims["exp"]),
            resource=self.resource_url,
            subject=str(claims["sub"]),
            claims={"iss": claims["iss"]},
        )

    async def _key(self, kid: Any) -> jwt.PyJWK:
        if not isinstance(kid, str):
            raise jwt.InvalidTokenError("the token names no key (kid)")
        async with self._lock:
            due = self._fetched_at is None or self._clock() - self._fetched_at >= REFETCH_SECONDS
            if kid not in self._keys and due:
                await self._fetch_keys()
        if kid not in self._keys:
            raise jwt.InvalidTokenError(f"the token is signed with key {kid!r}, which the issuer does not publish")
        return self._keys[kid]

    async def _fetch_keys(self) -> None:
        self._fetched_at = self._clock()
        async with self._client_factory() as client:
            jwks_uri = await self._jwks_uri(client)
            try:
                answer = await client.get(jwks_uri, timeout=10)
                answer.raise_for_status()
                keys = jwt.PyJWKSet.from_dict(answer.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                raise IssuerUnavailable(f"the keys at {jwks_uri} could not be read ({exc})") from exc
        self._keys = {key.key_id: key for key in keys.keys if key.key_id}
        logger.info("read %d signing key(s) of %s", len(self._keys), self.issuer)

    async def _jwks_uri(self, client: httpx.AsyncClient) -> str:
        for path in METADATA_PATHS:
            try:
                answer = await client.get(self.issuer.rstrip("/") + path, timeout=10)
                if answer.status_code == 200 and isinstance(uri := answer.json().get("jwks_uri"), str):
                    return uri
            except (httpx.HTTPError, ValueError):
                continue
        tried = ", ".join(METADATA_PATHS)
        raise IssuerUnavailable(f"{self.issuer} publishes no metadata with a jwks_uri (tried {tried})")


def _why(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "it has expired"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "it was issued for another resource (aud)"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "it was issued by another issuer (iss)"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "its signature does not verify"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "it is not valid yet (nbf/iat)"
    return str(exc) or type(exc).__name__
