"""With no key set, the token `fal auth login` stored signs requests, read and refreshed by fal-client as fal's CLI
does; a key, when set, comes first (unless FAL_FORCE_AUTH_BY_USER=1, as in fal's SDK)."""

from __future__ import annotations

from pathlib import Path

import fal_client.auth
import pytest
from mcp import Client

from happyhorse_mcp.config import Settings

from ..fakefal import VALID_KEY, FakeFal
from ..support import make_server, text_of

pytestmark = pytest.mark.anyio

PROMPT = {"prompt": "a horse in the rain", "duration": 3, "resolution": "720p", "wait_seconds": 30}
KEY_VARIABLES = ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET", "FAL_KEY_FILE", "FAL_FORCE_AUTH_BY_USER")


@pytest.fixture
def fal_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A FAL_HOME_DIR of this test's own; fal-client reads the real environment, so it is set there."""
    home = tmp_path / "fal-home"
    home.mkdir()
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAL_HOME_DIR", str(home))
    return home


def _settings(fal_url: str, tmp_path: Path, **env: str) -> Settings:
    import os

    urls = {f"HAPPYHORSE_FAL_{part}_URL": fal_url for part in ("QUEUE", "REST", "CDN")}
    return Settings.from_env({**os.environ, **urls, "HAPPYHORSE_DATA_DIR": str(tmp_path / "data"), **env})


def test_the_login_token_is_looked_for_where_fal_client_keeps_it(fal_home: Path) -> None:
    (fal_home / "auth0_token").write_text("refresh\n")

    settings = Settings.from_env()

    assert settings.fal_login_file == fal_client.auth._get_fal_home_dir() / fal_client.auth.AUTH_TOKEN_FILENAME
    assert settings.fal_key_source == "fal auth login"
    assert settings.has_fal_credentials


def test_a_key_comes_before_the_login_unless_fal_force_auth_by_user_is_1(fal_home: Path) -> None:
    (fal_home / "auth0_token").write_text("refresh\n")

    keyed = Settings.from_env({"FAL_HOME_DIR": str(fal_home), "FAL_KEY": "a:b"})
    forced = Settings.from_env({"FAL_HOME_DIR": str(fal_home), "FAL_KEY": "a:b", "FAL_FORCE_AUTH_BY_USER": "1"})

    assert (keyed.fal_key_source, keyed.fal_login_file) == ("FAL_KEY", None)
    assert (forced.fal_key, forced.fal_login_file) == (None, fal_home / "auth0_token")


def test_without_a_key_or_a_login_there_are_no_credentials(fal_home: Path) -> None:
    settings = Settings.from_env({"FAL_HOME_DIR": str(fal_home)})

    assert not settings.has_fal_credentials


async def test_with_no_key_a_video_is_made_with_the_fal_auth_login_token(
    fal_home: Path, fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    access = fake.issue_access_token(expires_in=3600)
    (fal_home / "auth0_token").write_text(f"refresh-token\n{access}")

    async with Client(make_server(_settings(fal_url, tmp_path))) as client:
        result = await client.call_tool("generate_video", PROMPT)

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["status"] == "completed"
    assert set(fake.authorizations) == {f"Bearer {access}"}
    assert fake.refreshes == 0


@pytest.mark.real_sockets
async def test_an_expiring_login_token_is_refreshed_and_written_back_for_fal_s_cli(
    fal_home: Path, fake: FakeFal, fal_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fal-client refreshes through auth.fal.ai with a client of its own: pointed at the fake, over loopback.
    monkeypatch.setattr(fal_client.auth, "AUTH0_TOKEN_URL", f"{fal_url}/oauth/token")
    fake.refresh_tokens.add("refresh-token")
    stale = fake.issue_access_token(expires_in=60)  # within fal-client's five minutes of leeway
    (fal_home / "auth0_token").write_text(f"refresh-token\n{stale}")

    async with Client(make_server(_settings(fal_url, tmp_path))) as client:
        result = await client.call_tool("generate_video", PROMPT)

    assert not result.is_error, text_of(result)
    refreshed = (fal_home / "auth0_token").read_text().splitlines()[1]
    assert refreshed != stale
    assert fake.authorizations[0] == f"Bearer {refreshed}"
    assert fake.refreshes == 1


@pytest.mark.real_sockets
async def test_a_login_that_cannot_be_refreshed_says_to_log_in_again_and_sends_nothing(
    fal_home: Path, fake: FakeFal, fal_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fal_client.auth, "AUTH0_TOKEN_URL", f"{fal_url}/oauth/token")
    (fal_home / "auth0_token").write_text("revoked-refresh-token\n")

    async with Client(make_server(_settings(fal_url, tmp_path))) as client:
        result = await client.call_tool("generate_video", PROMPT)

    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["error"]["type"] == "invalid_key"
    assert "Run `fal auth login` again" in text_of(result)
    assert result.structured_content["cost_usd"] == 0
    assert fake.submits == []


async def test_a_key_still_signs_requests_when_a_login_exists(
    fal_home: Path, fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    (fal_home / "auth0_token").write_text("refresh-token\n")

    async with Client(make_server(_settings(fal_url, tmp_path, FAL_KEY=VALID_KEY))) as client:
        result = await client.call_tool("generate_video", PROMPT)

    assert not result.is_error, text_of(result)
    assert set(fake.authorizations) == {f"Key {VALID_KEY}"}
