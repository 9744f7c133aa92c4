"""How requests to fal are signed, in the order fal's own SDK and CLI use: a key (FAL_KEY, FAL_KEY_ID with
FAL_KEY_SECRET; FAL_KEY_FILE is ours), else the token `fal auth login` stored. The login token is read and refreshed
by fal-client itself (fal_client.auth), so this server and fal's CLI share one login and one token file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import anyio
import httpx
from pydantic import SecretStr

from ..config.settings import Settings
from ..domain.errors import DASHBOARD_KEYS, InvalidKeyError, UpstreamError
from ..domain.keys import fal_key_problem
from .errors import key_refused


class FalCredentials(Protocol):
    async def authorization(self) -> str:
        """The Authorization header's value for the next request."""
        ...

    @property
    def when_refused(self) -> str:
        """What to do when fal answers 401."""
        ...


@dataclass(frozen=True)
class KeyCredentials:
    key: SecretStr = field(repr=False)
    source: str = "FAL_KEY"

    async def authorization(self) -> str:
        if fal_key_problem(self.key.get_secret_value()) is not None:  # known before the network: nothing is sent
            raise InvalidKeyError(f"{self.when_refused} Nothing was sent to fal.")
        return f"Key {self.key.get_secret_value()}"

    @property
    def when_refused(self) -> str:
        if (problem := fal_key_problem(self.key.get_secret_value())) is not None:
            return (
                f"{self.source}: {problem}. Copy the whole key from {DASHBOARD_KEYS}, set it, and restart the server."
            )
        return key_refused(self.source)


class LoginCredentials:
    """The `fal auth login` token: fal-client returns the cached access token, or refreshes it when it is within
    five minutes of expiring (and writes the new one back for fal's CLI). Requests made together wait for one
    refresh: fal's login service takes each refresh token once, so a second refresh at the same time would fail."""

    def __init__(self) -> None:
        self._refreshing = anyio.Lock()

    async def authorization(self) -> str:
        # fal-client is imported here, not at start: it pulls in ~160 ms of modules a keyed server never needs.
        from fal_client.auth import MissingCredentialsError, fetch_auth_credentials_async

        try:
            async with self._refreshing:
                credentials = await fetch_auth_credentials_async()
        except MissingCredentialsError as exc:
            raise InvalidKeyError(
                f"The `fal auth login` token could not be used ({exc}). Run `fal auth login` again, or set FAL_KEY, "
                "then retry; nothing was sent to fal."
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"fal's login service did not answer while refreshing the `fal auth login` token "
                f"({type(exc).__name__}); nothing was sent to fal. Retry in a minute, or set FAL_KEY."
            ) from exc
        return credentials.header_value

    @property
    def when_refused(self) -> str:
        return (
            "The `fal auth login` token was refused: run `fal auth login` again, or set FAL_KEY, and restart the "
            "server."
        )


def credentials_for(settings: Settings) -> FalCredentials | None:
    if settings.fal_key is not None:
        return KeyCredentials(settings.fal_key, settings.fal_key_source or "FAL_KEY")
    if settings.fal_login_file is not None:
        return LoginCredentials()
    return None
