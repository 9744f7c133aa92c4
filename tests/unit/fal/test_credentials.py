"""How requests to fal are signed, and what a refused key's error tells the user to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from happyhorse_mcp.config import Settings
from happyhorse_mcp.fal.credentials import KeyCredentials, LoginCredentials, credentials_for

pytestmark = pytest.mark.anyio


async def test_a_key_signs_as_fal_s_key_scheme() -> None:
    assert await KeyCredentials(SecretStr("id:secret")).authorization() == "Key id:secret"


def test_a_refused_key_s_advice_fits_what_is_wrong_with_it() -> None:
    placeholder = KeyCredentials(SecretStr("your-key-id:your-key-secret")).when_refused
    no_colon = KeyCredentials(SecretStr("justonepiece"), source="FAL_KEY_FILE").when_refused
    plain = KeyCredentials(SecretStr("id:secret")).when_refused
    assert "placeholder" in placeholder
    assert "with a ':' between the two" in no_colon
    assert "FAL_KEY_FILE" in no_colon
    assert "justonepiece" not in no_colon + placeholder + plain
    assert "FAL_KEY" in plain


def test_a_key_comes_before_the_fal_login_and_neither_means_none(tmp_path: Path) -> None:
    keyed = Settings(fal_key=SecretStr("id:secret"), fal_login_file=tmp_path / "token", data_dir=tmp_path)
    login = Settings(fal_key=None, fal_login_file=tmp_path / "token", data_dir=tmp_path)
    assert isinstance(credentials_for(keyed), KeyCredentials)
    assert isinstance(credentials_for(login), LoginCredentials)
    assert credentials_for(Settings(fal_key=None, data_dir=tmp_path)) is None
