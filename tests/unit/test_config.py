"""Configuration from the environment: where the key may come from, and that it never shows."""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from happyhorse_mcp.cli.start import RedactingFilter
from happyhorse_mcp.config import VARIABLES, ConfigError, Settings

BASE = {"HAPPYHORSE_DATA_DIR": "/tmp/hh-settings"}


def test_the_key_comes_from_fal_key_then_id_and_secret_then_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "fal.key"
    key_file.write_text("file-id:file-secret\n")
    assert Settings.from_env({**BASE, "FAL_KEY": "a:b"}).fal_key.get_secret_value() == "a:b"  # type: ignore[union-attr]
    pair = Settings.from_env({**BASE, "FAL_KEY_ID": "id", "FAL_KEY_SECRET": "secret"}).fal_key
    assert pair is not None
    assert pair.get_secret_value() == "id:secret"
    from_file = Settings.from_env({**BASE, "FAL_KEY_FILE": str(key_file)}).fal_key
    assert from_file is not None
    assert from_file.get_secret_value() == "file-id:file-secret"
    assert Settings.from_env(BASE).fal_key is None


def test_an_unreadable_key_file_stops_the_server_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FAL_KEY_FILE cannot be read"):
        Settings.from_env({**BASE, "FAL_KEY_FILE": str(tmp_path / "missing")})


def test_allowed_dirs_must_be_absolute_and_a_missing_one_is_kept_and_named_not_refused(tmp_path: Path) -> None:
    assert Settings.from_env({**BASE, "HAPPYHORSE_ALLOWED_DIRS": str(tmp_path)}).allowed_dirs == (tmp_path,)
    with pytest.raises(ConfigError, match="HAPPYHORSE_ALLOWED_DIRS"):
        Settings.from_env({**BASE, "HAPPYHORSE_ALLOWED_DIRS": "relative/folder"})
    missing = Settings.from_env({**BASE, "HAPPYHORSE_ALLOWED_DIRS": f"{tmp_path}{os.pathsep}{tmp_path / 'nope'}"})
    assert missing.allowed_dirs == (tmp_path, tmp_path / "nope")
    assert missing.missing_folders == [tmp_path / "nope"]


class _Recording(dict[str, str]):
    """An environment that notes every name looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)


@pytest.mark.parametrize(
    "extra",
    [{}, {"FAL_KEY": "a:b", "HAPPYHORSE_HTTP_TOKEN": "t"}, {"FAL_FORCE_AUTH_BY_USER": "1"}],
    ids=["nothing-set", "key-and-token", "fal-login"],
)
def test_every_variable_the_server_reads_is_listed(extra: dict[str, str]) -> None:
    env = _Recording({**BASE, **extra})
    Settings.from_env(env)
    assert env.asked - {variable.name for variable in VARIABLES} == set()


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("HAPPYHORSE_MAX_DOWNLOAD_MB", "lots", "a size in MB such as"),
        ("HAPPYHORSE_DAILY_BUDGET_USD", "ten", "an amount of US dollars such as"),
        ("HAPPYHORSE_HTTP_SESSIONS_PER_CLIENT", "0", "a whole number above 0 such as"),
        ("HAPPYHORSE_FAL_QUEUE_URL", "queue.fal.run", "an http(s) URL"),
    ],
)
def test_a_malformed_variable_is_named_with_the_kind_of_value_it_takes(name: str, value: str, said: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{name} must be {said}")):
        Settings.from_env({**BASE, name: value})


def test_the_http_token_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")

    def token(env: dict[str, str]) -> str | None:
        return Settings.from_env({**BASE, **env}).http.token

    assert token({"HAPPYHORSE_HTTP_TOKEN": "direct"}) == "direct"
    assert token({"HAPPYHORSE_HTTP_TOKEN_FILE": str(token_file)}) == "from-file"
    assert token({}) is None


def test_log_lines_never_carry_the_key_or_the_token(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent %s with %s", ("id:secret", "tok-123"), None)
    RedactingFilter(["id:secret", "tok-123"]).filter(record)
    assert record.getMessage() == "sent [redacted] with [redacted]"


def test_download_hosts_are_urls_and_a_bare_name_is_refused() -> None:
    env = {**BASE, "HAPPYHORSE_DOWNLOAD_HOSTS": "https://media.example.com/, http://127.0.0.1:9000"}
    assert Settings.from_env(env).download_hosts == ("https://media.example.com", "http://127.0.0.1:9000")
    with pytest.raises(ConfigError, match="HAPPYHORSE_DOWNLOAD_HOSTS must be an http"):
        Settings.from_env({**BASE, "HAPPYHORSE_DOWNLOAD_HOSTS": "media.example.com"})


@pytest.mark.parametrize(
    "pasted",
    ["\u201cid:secret\u201d", "id:sec ret", "id:secret\nmore", "id:s\u00e9cret"],
    ids=["curly", "space", "newline", "accent"],
)
def test_a_key_with_characters_no_key_has_is_refused_at_start_naming_the_variable_never_the_value(pasted: str) -> None:
    with pytest.raises(ConfigError, match="FAL_KEY holds characters a key never has") as refused:
        Settings.from_env({**BASE, "FAL_KEY": pasted})
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize("quoted", ['"id:secret"', "'id:secret'"], ids=["double", "single"])
@pytest.mark.parametrize("name", ["FAL_KEY", "HAPPYHORSE_HTTP_TOKEN"])
def test_a_secret_wrapped_in_straight_quotes_is_refused_like_curly_ones(quoted: str, name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} is wrapped in quotes") as refused:
        Settings.from_env({**BASE, name: quoted})
    assert "secret" not in str(refused.value).replace("a secret", "")


def test_a_pasted_key_is_trimmed_but_otherwise_kept_exactly() -> None:
    assert Settings.from_env({**BASE, "FAL_KEY": "  id:secret\n"}).fal_key.get_secret_value() == "id:secret"  # type: ignore[union-attr]


def test_a_traceback_in_the_log_never_carries_the_key() -> None:
    try:
        raise UnicodeEncodeError("latin-1", "Key id:secret\u201d", 13, 14, "ordinal not in range")
    except UnicodeEncodeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    RedactingFilter(["id:secret"]).filter(record)
    assert "id:secret" not in logging.Formatter().format(record)
    assert "[redacted]" in logging.Formatter().format(record)


def test_check_with_a_mangled_key_says_why_and_is_not_ready_never_showing_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from happyhorse_mcp.cli.start import main

    monkeypatch.setenv("FAL_KEY", "\u201cid:secret\u201d")
    with pytest.raises(SystemExit) as exited:
        main(["check", "--offline"])
    assert exited.value.code == 1
    shown = capsys.readouterr()
    assert "FAL_KEY holds characters" in shown.out
    assert "verdict: NOT ready" in shown.out
    assert "secret" not in shown.out.replace("key-secret", "") + shown.err


def test_the_output_dir_is_resolved_once_so_links_the_operator_chose_are_kept(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "Movies"
    real.mkdir(parents=True)
    (tmp_path / "Movies").symlink_to(real, target_is_directory=True)
    settings = Settings.from_env({**BASE, "HAPPYHORSE_OUTPUT_DIR": str(tmp_path / "Movies" / "HappyHorse")})
    assert settings.output_dir == real / "HappyHorse"


def test_the_admin_key_is_read_from_the_environment_kept_out_of_reprs_and_redacted_from_logs() -> None:
    settings = Settings.from_env({**BASE, "FAL_ADMIN_KEY": "admin-id:admin-secret"})
    assert settings.fal_admin_key is not None
    assert settings.fal_admin_key.get_secret_value() == "admin-id:admin-secret"
    assert "admin-id:admin-secret" in settings.secrets()
    assert "admin-secret" not in repr(settings)
    with pytest.raises(ConfigError, match="FAL_ADMIN_KEY"):
        Settings.from_env({**BASE, "FAL_ADMIN_KEY": '"admin-id:admin-secret"'})
