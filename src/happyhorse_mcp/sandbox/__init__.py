"""The sandbox (`--sandbox`, HAPPYHORSE_SANDBOX=1): every tool served with a stand-in for fal built into this package
(stand_in.py), so a first video, the player, films, takes, extend, review, Tasks and budgets can all be tried with no
key, no network and nothing billed. Its jobs are kept apart from real ones, in their own store under the data folder,
and every answer about them says they are the sandbox's."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import SecretStr

from ..domain.uris import SANDBOX_URL

if TYPE_CHECKING:
    import httpx

    from ..config import Settings

# Signs requests to the stand-in only: it never leaves the process, and the stand-in takes any key.
SANDBOX_KEY = "sandbox-key-id:sandbox-key-secret"


def sandboxed(settings: Settings) -> Settings:
    """The settings a sandbox server runs with: fal is the stand-in, its jobs are in their own data folder, and the
    key is the sandbox's own (any real key is left out, never sent anywhere)."""
    return dataclasses.replace(
        settings,
        sandbox=True,
        fal_key=SecretStr(SANDBOX_KEY),
        fal_key_source="the sandbox",
        fal_login_file=None,
        queue_url=SANDBOX_URL,
        rest_url=SANDBOX_URL,
        cdn_url=SANDBOX_URL,
        api_url=SANDBOX_URL,
        download_hosts=(),
        database_url=None,
        data_dir=settings.data_dir / "sandbox",
    )


def sandbox_client_factory() -> Callable[[], httpx.AsyncClient]:
    """HTTP clients answered by one stand-in, in this process (its jobs and files live as long as it does)."""
    from .stand_in import StandIn

    return StandIn().client
