"""Who is calling: the user every job, budget and key belongs to, and what they may do. Pure.

On stdio, and over HTTP with no sign-in or the single shared token, everyone is the one local user, who owns every
job recorded before users existed. Behind sign-in a user is the token's issuer and subject (or a static token's
name), and may read (jobs, estimates, reviews) and, with the second scope, spend money.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOCAL_USER = "local"
READ_SCOPE = "happyhorse:read"
GENERATE_SCOPE = "happyhorse:generate"
SCOPES = (READ_SCOPE, GENERATE_SCOPE)


@dataclass(frozen=True)
class Principal:
    user: str
    scopes: frozenset[str] = frozenset(SCOPES)
    # Signed in through an authorization server, so they can sign in again asking for more; a named token's holder
    # can only ask the operator.
    by_oauth: bool = False

    @property
    def may_generate(self) -> bool:
        return GENERATE_SCOPE in self.scopes

    @property
    def is_local(self) -> bool:
        return self.user == LOCAL_USER


LOCAL = Principal(LOCAL_USER)


@dataclass(frozen=True)
class SealedKey:
    """A user's own fal key as stored: sealed (auth/key_vault.py) under the deployment secret `key_id` names."""

    key_id: str
    blob: bytes = field(repr=False)


def user_of(issuer: str | None, subject: str) -> str:
    """A signed-in user's name in the store: the subject, which is unique only within its issuer."""
    return f"{issuer}#{subject}" if issuer else subject
