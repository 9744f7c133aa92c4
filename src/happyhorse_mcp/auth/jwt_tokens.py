"""Access tokens from an OAuth 2.1 authorization server (HAPPYHORSE_AUTH_ISSUER), validated here as JWTs: the
signature against the issuer's published keys (JWKS, found through its metadata, cached, fetched again when a token
names a key not seen yet), `exp`/`nbf` with a small leeway, `iss`, and `aud` = this server's resource URL
(HAPPYHORSE_RESOURCE_URL), so a token minted for another resource is refused. PyJWT does the cryptography.

Opaque tokens (not JWTs) are asked about at the issuer's token introspection endpoint (RFC 7662) when this server
has client credentials there (HAPPYHORSE_AUTH_CLIENT_ID and _SECRET): the answer must say active, name this
resource in `aud`, come from the issuer and be unexpired; it is kept for at most a minute.

Why a token was refused is logged (never the token); the client only learns that it was.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import jwt
from mcp.server.auth.provider import AccessToken

from ..config.tls import tls_context

logger = logging.getLogger(__name__)

LEEWAY_SECONDS = 30
# Asymmetric algorithms only: a shared-secret (HS*) token could be forged by anyone holding the secret.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
# An unknown key id makes the keys be fetched again, but not more often than this: a flood of forged tokens must not
# become a flood of requests to the issuer.
REFETCH_SECONDS = 30.0
INTROSPECTION_KEPT_SECONDS = 60.0
CLIENT_PREFIX = "client:"
METADATA_PATHS = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")


def issuer_client() -> httpx.AsyncClient:
    """A client for one fetch from the issuer (keys, metadata, introspection), on the process's TLS settings: each
    new set reads the whole CA bundle."""
    return httpx.AsyncClient(verify=tls_context())


class IssuerUnavailable(Exception):
    """The issuer's metadata or keys could not be read."""


class JwtVerifier:
    """The SDK's TokenVerifier for JWT access tokens of one issuer, for one resource."""

    def __init__(
        self,
        issuer: str,
        resource_url: str,
        *,
        http_client_factory: Callable[[], httpx.AsyncClient] = issuer_client,
        clock: Callable[[], float] = time.monotonic,
        introspection_client: tuple[str, str] | None = None,
    ) -> None:
        self.issuer = issuer
        self.resource_url = resource_url
        self._client_factory = http_client_factory
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = anyio.Lock()
        self._metadata: dict[str, Any] | None = None
        self._introspection_client = introspection_client
        self._introspected: dict[bytes, tuple[float, AccessToken]] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            if self._introspection_client is not None and token.count(".") != 2:
                return await self._introspect(token)
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
        return self._access(token, claims)

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

    async def _introspect(self, token: str) -> AccessToken:
        digest = hashlib.sha256(token.encode()).digest()
        now = time.time()
        if (kept := self._introspected.get(digest)) is not None and kept[0] > now:
            return kept[1]
        assert self._introspection_client is not None
        async with self._client_factory() as client:
            endpoint = (await self._issuer_metadata(client)).get("introspection_endpoint")
            if not isinstance(endpoint, str):
                raise IssuerUnavailable(f"{self.issuer} publishes no introspection_endpoint")
            try:
                answer = await client.post(
                    endpoint,
                    data={"token": token, "token_type_hint": "access_token"},
                    auth=self._introspection_client,
                    timeout=10,
                )
                answer.raise_for_status()
                claims: dict[str, Any] = answer.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise IssuerUnavailable(f"the introspection endpoint did not answer ({exc})") from exc
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        expires = claims.get("exp")
        if claims.get("active") is not True:
            raise jwt.InvalidTokenError("the issuer says it is not active")
        if self.resource_url not in audiences:
            raise jwt.InvalidAudienceError("wrong audience")
        if claims.get("iss", self.issuer) != self.issuer:
            raise jwt.InvalidIssuerError("wrong issuer")
        if not isinstance(expires, int) or expires < now - LEEWAY_SECONDS:
            raise jwt.ExpiredSignatureError("expired")
        if not isinstance(claims.get("sub") or claims.get("client_id"), str):
            raise jwt.MissingRequiredClaimError("sub")  # a client-credentials token's user is its client
        access = self._access(token, claims)
        self._introspected = {d: kept for d, kept in self._introspected.items() if kept[0] > now}
        self._introspected[digest] = (min(float(expires), now + INTROSPECTION_KEPT_SECONDS), access)
        return access

    def _access(self, token: str, claims: dict[str, Any]) -> AccessToken:
        scope = claims.get("scope")
        scopes = scope.split() if isinstance(scope, str) else list(claims.get("scp") or [])
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or claims["sub"]),
            scopes=[str(s) for s in scopes],
            expires_at=int(claims["exp"]),
            resource=self.resource_url,
            # A token with no subject is its client's; a client is never taken for the user whose subject happens
            # to equal its client id.
            subject=str(claims["sub"]) if claims.get("sub") else f"{CLIENT_PREFIX}{claims['client_id']}",
            claims={"iss": claims.get("iss", self.issuer)},
        )

    async def _issuer_metadata(self, client: httpx.AsyncClient) -> dict[str, Any]:
        if self._metadata is not None:
            return self._metadata
        for path in METADATA_PATHS:
            try:
                answer = await client.get(self.issuer.rstrip("/") + path, timeout=10)
                if answer.status_code == 200 and isinstance(document := answer.json(), dict):
                    self._metadata = document
                    return document
            except (httpx.HTTPError, ValueError):
                continue
        tried = ", ".join(METADATA_PATHS)
        raise IssuerUnavailable(f"{self.issuer} publishes no metadata (tried {tried})")

    async def _jwks_uri(self, client: httpx.AsyncClient) -> str:
        if isinstance(uri := (await self._issuer_metadata(client)).get("jwks_uri"), str):
            return uri
        raise IssuerUnavailable(f"{self.issuer}'s metadata names no jwks_uri")


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
