"""The SDK's TokenVerifier over the named tokens of HAPPYHORSE_HTTP_TOKENS_FILE (config/tokens_file.py)."""

from __future__ import annotations

import hmac

from mcp.server.auth.provider import AccessToken

from ..config.tokens_file import NamedToken, digest


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
