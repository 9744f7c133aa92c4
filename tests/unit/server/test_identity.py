"""Who a request is: a verified token's issuer and subject (or a named token's name), with its scopes; the local
user where no token names anyone."""

from __future__ import annotations

from types import SimpleNamespace

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken

from happyhorse_mcp.domain.principal import LOCAL, READ_SCOPE
from happyhorse_mcp.server.identity import caller, principal_of, principal_of_token


def test_a_signed_in_user_is_named_by_issuer_and_subject_and_a_named_token_by_its_name() -> None:
    jwt = AccessToken(token="t", client_id="app", scopes=[READ_SCOPE], subject="alice", claims={"iss": "https://id"})
    named = AccessToken(token="t", client_id="bob", scopes=[READ_SCOPE], subject="bob")
    assert principal_of_token(jwt).user == "https://id#alice"
    assert principal_of_token(named).user == "bob"
    assert not principal_of_token(jwt).may_generate


def test_a_request_without_a_verified_user_is_the_local_user() -> None:
    assert principal_of(SimpleNamespace(request=None)) == LOCAL
    assert principal_of(SimpleNamespace(request=SimpleNamespace(scope={"user": None}))) == LOCAL
    assert caller() == LOCAL


def test_a_request_carrying_a_verified_user_is_that_user() -> None:
    token = AccessToken(token="t", client_id="carol", scopes=[READ_SCOPE], subject="carol")
    request = SimpleNamespace(scope={"user": AuthenticatedUser(token)})
    assert principal_of(SimpleNamespace(request=request)).user == "carol"
