"""JWT access tokens are accepted only when signed by a key the issuer publishes, current, from the issuer, and for
this resource; the issuer's keys are read through its metadata and read again for a key not seen yet."""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from happyhorse_mcp.auth.jwt_tokens import LEEWAY_SECONDS, REFETCH_SECONDS, JwtVerifier, issuer_client

pytestmark = pytest.mark.anyio

ISSUER = "https://login.example.com/realms/team"
RESOURCE = "https://mcp.example.com/mcp"


@functools.cache
def rsa_key(name: str) -> Any:
    """An RSA key per name, made once per test process (each takes a tenth of a second or more)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Issuer:
    """An authorization server's metadata and JWKS, served to the verifier's HTTP client."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {"k1": rsa_key("k1")}
        self.requests: list[str] = []

    def jwks(self) -> dict[str, Any]:
        published = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            published.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": published}

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        if request.url.path.endswith("/jwks"):
            return httpx.Response(200, json=self.jwks())
        return httpx.Response(404)

    def token(self, kid: str = "k1", key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "sub": "alice",
            "aud": RESOURCE,
            "iat": now,
            "exp": now + 600,
            "scope": "happyhorse:read",
        }
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})


@dataclass(frozen=True)
class FromNow:
    seconds: int


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(issuer: Issuer, clock: Clock) -> JwtVerifier:
    transport = httpx.MockTransport(issuer.handler)
    return JwtVerifier(
        ISSUER, RESOURCE, http_client_factory=lambda: httpx.AsyncClient(transport=transport), clock=clock
    )


async def test_a_token_of_the_issuer_for_this_resource_names_its_user_and_scopes(
    verifier: JwtVerifier, issuer: Issuer
) -> None:
    access = await verifier.verify_token(issuer.token(scope="happyhorse:read happyhorse:generate", client_id="app"))
    assert access is not None
    assert (access.subject, access.client_id, access.resource) == ("alice", "app", RESOURCE)
    assert access.scopes == ["happyhorse:read", "happyhorse:generate"]
    assert access.claims == {"iss": ISSUER}


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"exp": FromNow(-LEEWAY_SECONDS - 5)}, "expired"),
        ({"nbf": FromNow(LEEWAY_SECONDS + 60)}, "not valid yet"),
        ({"aud": "https://other.example.com/mcp"}, "another resource"),
        ({"iss": "https://evil.example.com"}, "another issuer"),
        ({"sub": None}, "sub"),
    ],
    ids=["expired", "not-yet-valid", "wrong-audience", "wrong-issuer", "no-subject"],
)
async def test_a_token_that_is_not_current_or_not_for_this_resource_and_issuer_is_refused_and_the_log_says_why(
    verifier: JwtVerifier, issuer: Issuer, caplog: pytest.LogCaptureFixture, claims: dict[str, Any], why: str
) -> None:
    now = int(time.time())  # when the test runs, not when it was collected
    resolved: dict[str, Any] = {k: now + v.seconds if isinstance(v, FromNow) else v for k, v in claims.items()}
    token = issuer.token(**resolved)
    with caplog.at_level("INFO", logger="happyhorse_mcp.auth.jwt_tokens"):
        assert await verifier.verify_token(token) is None
    assert why in caplog.text
    assert token not in caplog.text


async def test_a_token_signed_with_another_key_under_a_published_kid_is_refused(
    verifier: JwtVerifier, issuer: Issuer
) -> None:
    forger = rsa_key("forger")
    assert await verifier.verify_token(issuer.token(key=forger)) is None


async def test_a_shared_secret_or_unsigned_token_is_refused(verifier: JwtVerifier) -> None:
    claims = {"iss": ISSUER, "sub": "alice", "aud": RESOURCE, "exp": int(time.time()) + 600}
    assert (
        await verifier.verify_token(jwt.encode(claims, "secret" * 8, algorithm="HS256", headers={"kid": "k1"})) is None
    )
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})  # type: ignore[arg-type]
    assert await verifier.verify_token(unsigned) is None
    assert await verifier.verify_token("not.a.jwt") is None


async def test_a_new_key_is_fetched_when_a_token_names_it_but_not_more_often_than_the_refetch_interval(
    verifier: JwtVerifier, issuer: Issuer, clock: Clock
) -> None:
    assert await verifier.verify_token(issuer.token()) is not None
    fetched = issuer.requests.count("/realms/team/jwks")
    issuer.keys["k2"] = rsa_key("k2")
    unknown = issuer.token(kid="k3", key=issuer.keys["k2"])
    assert await verifier.verify_token(issuer.token(kid="k2")) is None, "within the interval: keys not read again"
    clock.now += REFETCH_SECONDS
    assert await verifier.verify_token(issuer.token(kid="k2")) is not None, "a rotated-in key is found"
    assert issuer.requests.count("/realms/team/jwks") == fetched + 1
    for _ in range(5):
        assert await verifier.verify_token(unknown) is None, "an unknown kid is refused"
    assert issuer.requests.count("/realms/team/jwks") == fetched + 1, "a flood of unknown kids fetches nothing"


class Introspection:
    """An issuer that answers token introspection with `answers[token]`."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "introspection_endpoint": f"{ISSUER}/introspect"})
        assert request.headers["authorization"].startswith("Basic ")
        token = dict(pair.split("=") for pair in request.content.decode().split("&"))["token"]
        self.asked.append(token)
        return httpx.Response(200, json=self.answers.get(token, {"active": False}))


async def test_an_opaque_token_is_accepted_only_when_the_issuer_says_it_is_active_and_for_this_resource() -> None:
    later = int(time.time()) + 600
    good = {
        "active": True,
        "iss": ISSUER,
        "aud": RESOURCE,
        "exp": later,
        "client_id": "dave",
        "scope": "happyhorse:read",
    }
    issuer = Introspection({"good": good, "elsewhere": {**good, "aud": "https://other.example.com/mcp"}})
    transport = httpx.MockTransport(issuer.handler)
    verifier = JwtVerifier(
        ISSUER,
        RESOURCE,
        http_client_factory=lambda: httpx.AsyncClient(transport=transport),
        introspection_client=("happyhorse-mcp", "secret"),
    )
    first, again = await verifier.verify_token("good"), await verifier.verify_token("good")
    assert first is not None
    assert (first.subject, first.scopes) == ("client:dave", ["happyhorse:read"])
    assert again == first
    assert issuer.asked.count("good") == 1, "kept for a while, not asked on every request"
    assert await verifier.verify_token("elsewhere") is None
    assert await verifier.verify_token("revoked") is None


async def test_each_client_for_the_issuer_uses_the_process_s_tls_settings_without_reading_the_ca_bundle_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ssl

    from happyhorse_mcp.config.tls import tls_context

    tls_context()
    reads = list[object]()
    real = ssl.SSLContext.load_verify_locations

    def counted(context: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        reads.append(args)
        real(context, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    for _ in range(2):
        async with issuer_client():
            pass
    assert reads == []


async def test_a_token_without_a_subject_is_its_client_s_never_the_user_whose_subject_is_the_client_id() -> None:
    from happyhorse_mcp.server.identity import principal_of_token

    later = int(time.time()) + 600
    person = {"active": True, "iss": ISSUER, "aud": RESOURCE, "exp": later, "sub": "alice", "scope": "happyhorse:read"}
    client = {"active": True, "iss": ISSUER, "aud": RESOURCE, "exp": later, "client_id": "alice", "scope": "x"}
    issuer = Introspection({"person": person, "client": client})
    verifier = JwtVerifier(
        ISSUER,
        RESOURCE,
        http_client_factory=lambda: httpx.AsyncClient(transport=httpx.MockTransport(issuer.handler)),
        introspection_client=("happyhorse-mcp", "secret"),
    )
    as_person, as_client = await verifier.verify_token("person"), await verifier.verify_token("client")
    assert as_person is not None
    assert as_client is not None
    assert principal_of_token(as_person).user != principal_of_token(as_client).user
