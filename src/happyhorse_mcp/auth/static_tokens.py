"""The SDK's TokenVerifier over static tokens: the named tokens of HAPPYHORSE_HTTP_TOKENS_FILE (config/tokens_file.py),
each its user's, or the one shared HAPPYHORSE_HTTP_TOKEN, whose holders are all the one local user."""

from __future__ import annotations

import hmac

from mcp.server.auth.provider import AccessToken

from ..config.tokens_file import NamedToken, digest
from ..domain.principal import LOCAL_USER, SCOPES


class StaticTokenVerifier:
    """The SDK's TokenVerifier over the named tokens: a presented token is its user's, with their scopes."""

    def __init__(self, tokens: tuple[NamedToken, ...]) -> None:
        self._tokens = tokens

    async def verify_token(self, token: str) -> AccessToken | None:
        presented = digest(token)
        found = None
        for named in self._tokens:  # every entry compared, in constant time each
            if hmac.compare_digest(named.digest, presented):
                found = named
        if found is None:
            return None
        return AccessToken(token=token, client_id=found.user, subject=found.user, scopes=list(found.scopes))


class SharedTokenVerifier:
    """The one shared token (HAPPYHORSE_HTTP_TOKEN), compared in constant time: whoever holds it is the local user,
    with every scope, as on stdio."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.encode(), self._token):
            return None
        return AccessToken(token=token, client_id=LOCAL_USER, subject=LOCAL_USER, scopes=list(SCOPES))
