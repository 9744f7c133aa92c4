"""`happyhorse-mcp check`: the configuration in force, a clear verdict, and never the key."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import anyio.to_thread
import pytest
from pydantic import SecretStr

from happyhorse_mcp.cli.check import run_check
from happyhorse_mcp.cli.start import main
from happyhorse_mcp.config import Settings

from ..fakefal import VALID_KEY, FakeFal
from ..support import clean_environment

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]


async def _check(settings: Settings, capsys: pytest.CaptureFixture[str], **kwargs: object) -> tuple[int, str]:
    code = await anyio.to_thread.run_sync(functools.partial(run_check, settings, **kwargs))  # type: ignore[arg-type]
    return code, capsys.readouterr().out


async def test_a_good_setup_is_ready_and_the_secret_is_never_printed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = await _check(settings, capsys)
    assert code == 0
    assert "fal answered (HTTP 404 for a request that does not exist) and did not refuse the key" in out
    assert out.count(settings.rest_url) == 2, "the queue host line and one storage host line, not the same host twice"
    assert "verdict: ready" in out
    assert "fake-key-secret" not in out
    assert str(settings.data_dir) in out


async def test_a_refused_key_is_not_ready(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = await _check(dataclasses.replace(settings, fal_key=SecretStr("wrong-key-id:wrong-key-secret")), capsys)
    assert code == 1
    assert "fal refused the key (HTTP 401)" in out
    assert "NOT ready" in out
    assert "wrong:key" not in out


async def test_a_missing_or_malformed_key_says_how_to_fix_it(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = await _check(dataclasses.replace(settings, fal_key=None), capsys)
    assert code == 1
    assert "missing: set FAL_KEY" in out
    code, out = await _check(dataclasses.replace(settings, fal_key=SecretStr("nocolon")), capsys)
    assert code == 1
    assert "malformed" in out
    assert "nocolon" not in out


async def test_the_example_s_placeholder_key_is_not_called_well_formed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    placeholder = SecretStr("your-fal-key-id:your-fal-key-secret")  # as README and examples/ show it
    code, out = await _check(dataclasses.replace(settings, fal_key=placeholder), capsys)
    assert code == 1
    assert "still the example's placeholder" in out
    assert "well formed" not in out


async def test_an_unreachable_fal_is_not_ready(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(fal_key=SecretStr(VALID_KEY), queue_url=f"http://127.0.0.1:{port}", data_dir=tmp_path)
    code, out = await _check(settings, capsys)
    assert code == 1
    assert "no answer from" in out


async def test_check_names_the_job_store_without_showing_a_database_url(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    url = "postgresql://hh:s3cret-password@db.internal/happyhorse"
    _, out = await _check(dataclasses.replace(settings, database_url=SecretStr(url)), capsys, offline=True)
    assert "job store:" in out
    assert "PostgreSQL" in out
    assert "s3cret-password" not in out


async def test_with_no_key_check_names_the_fal_login_and_probes_with_its_token(
    settings: Settings, fake: FakeFal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    token_file = tmp_path / "auth0_token"
    access = fake.issue_access_token(expires_in=3600)
    token_file.write_text(f"refresh-token\n{access}")
    login = dataclasses.replace(settings, fal_key=None, fal_login_file=token_file)

    with pytest.MonkeyPatch.context() as env:
        env.setenv("FAL_HOME_DIR", str(tmp_path))
        for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
            env.delenv(name, raising=False)
        code, out = await _check(login, capsys)

    assert code == 0, out
    assert f"the `fal auth login` token in {token_file}" in out
    assert fake.authorizations == [f"Bearer {access}"]
    assert access not in out


def _check_command(*args: str) -> int:
    """`happyhorse-mcp check ARGS` through the command's own entry point (it reads this process's environment); its
    exit code."""
    with pytest.raises(SystemExit) as exited:
        main(["check", *args])
    return int(exited.value.code or 0)


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment of a shell with no key and no setting of this server (what `check` reads)."""
    clean_environment(monkeypatch, tmp_path)
    return monkeypatch


async def test_check_runs_with_the_environment_a_host_config_gives_the_server(
    shell: pytest.MonkeyPatch, tmp_path: Path, fal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "claude_desktop_config.json"
    server_env = {
        "FAL_KEY": VALID_KEY,
        "HAPPYHORSE_FAL_QUEUE_URL": fal_url,
        "HAPPYHORSE_DATA_DIR": "${HOME}/happyhorse-data",
    }
    config.write_text(json.dumps({"mcpServers": {"happyhorse": {"command": "uvx", "args": [], "env": server_env}}}))
    code = await anyio.to_thread.run_sync(_check_command, "--config", str(config))  # the shell has no key
    out = capsys.readouterr().out
    assert code == 0, out
    assert "set (FAL_KEY), well formed" in out
    assert str(tmp_path / "happyhorse-data") in out
    assert "verdict: ready" in out


def test_a_bad_setting_is_named_and_the_rest_of_the_table_still_printed(
    shell: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.setenv("HAPPYHORSE_DATA_DIR", str(tmp_path))
    shell.setenv("HAPPYHORSE_ALLOWED_DIRS", "relative/folder")
    shell.setenv("HAPPYHORSE_DAILY_BUDGET_USD", "lots")
    shell.setenv("FAL_KEY", VALID_KEY)
    code = _check_command("--offline")
    out = capsys.readouterr().out
    assert code == 1
    assert "NOT usable:      HAPPYHORSE_ALLOWED_DIRS must list folders by absolute path" in out
    assert "NOT usable:      HAPPYHORSE_DAILY_BUDGET_USD must be an amount of US dollars" in out
    assert "spend limits:" in out
    assert "fal key:         set (FAL_KEY), well formed" in out
    assert "verdict: NOT ready" in out


async def test_check_says_who_signs_in_and_the_per_user_limits_without_any_token(
    settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from happyhorse_mcp.config.settings import HttpSettings
    from happyhorse_mcp.config.tokens_file import read_tokens_file
    from happyhorse_mcp.domain.budget import SpendLimits

    tokens = tmp_path / "tokens"
    tokens.write_text("alice alice-token-0123456789abcdef\nbob bob-token-0123456789abcdef\n")
    team = dataclasses.replace(
        settings,
        http=HttpSettings(tokens=read_tokens_file("HAPPYHORSE_HTTP_TOKENS_FILE", str(tokens))),
        user_keys_secrets=("s" * 32,),
        limits=SpendLimits(user_daily_budget_usd=5.0, user_max_jobs_in_flight=3),
    )
    _, out = await _check(team, capsys, offline=True)
    _, alone = await _check(settings, capsys, offline=True)
    assert "named tokens for 2 user(s)" in out
    assert "users may give their own fal key" in out
    assert "USD 5.00 per user per UTC day, 3 unfinished job(s) per user" in out
    assert "alice-token" not in out
    assert "s" * 32 not in out
    assert "one local user" in alone


async def test_check_with_a_claude_code_config_sees_the_shell_s_settings_as_claude_code_passes_them_on(
    shell: pytest.MonkeyPatch, tmp_path: Path, fal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.setenv("FAL_KEY", VALID_KEY)  # exported in the shell, not written in the config
    shell.setenv("HAPPYHORSE_FAL_QUEUE_URL", fal_url)
    shell.setenv("HAPPYHORSE_DATA_DIR", str(tmp_path / "data"))
    config = tmp_path / ".mcp.json"
    config.write_text(json.dumps({"mcpServers": {"happyhorse": {"command": "uvx", "args": []}}}))
    code = await anyio.to_thread.run_sync(_check_command, "--config", str(config))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "verdict: ready" in out


@pytest.mark.parametrize("where", ["the shell", "a host config"])
def test_a_mistyped_setting_is_named_with_its_correction_and_check_is_not_ready(
    shell: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    # HAPPYHORSE_DAILY_BUDGET=1 (no _USD) was ignored: a person who thought they capped spend at USD 1 had USD 30.
    typed = {"FAL_KEY": VALID_KEY, "HAPPYHORSE_DATA_DIR": str(tmp_path / "data"), "HAPPYHORSE_DAILY_BUDGET": "1"}
    if where == "the shell":
        for name, value in typed.items():
            shell.setenv(name, value)
        code = _check_command("--offline")
    else:
        config = tmp_path / "claude_desktop_config.json"
        config.write_text(json.dumps({"mcpServers": {"happyhorse": {"command": "uvx", "env": typed}}}))
        code = _check_command("--offline", "--config", str(config))
    out = capsys.readouterr().out
    assert code == 1
    assert "HAPPYHORSE_DAILY_BUDGET is not a setting of this server, so it is ignored: did you mean " in out
    assert "HAPPYHORSE_DAILY_BUDGET_USD?" in out
    assert "verdict: NOT ready" in out


def test_check_says_the_sandbox_needs_no_key_and_is_ready_and_not_beside_a_real_key(
    shell: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.setenv("HAPPYHORSE_DATA_DIR", str(tmp_path / "data"))
    shell.setenv("HAPPYHORSE_SANDBOX", "1")
    ready = _check_command()
    sandbox = capsys.readouterr().out
    shell.setenv("FAL_KEY", VALID_KEY)
    refused = _check_command()
    beside = capsys.readouterr().out
    assert ready == 0, sandbox
    assert "not needed: the sandbox (HAPPYHORSE_SANDBOX=1)" in sandbox
    assert "verdict: ready" in sandbox
    assert refused == 1
    assert "beside HAPPYHORSE_SANDBOX=1" in beside


async def test_check_says_where_billed_costs_come_from_and_never_shows_the_admin_key(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from pydantic import SecretStr

    admin = "admin-key-id:admin-key-secret-0123456789"
    _, without = await _check(settings, capsys, offline=True)
    _, with_key = await _check(dataclasses.replace(settings, fal_admin_key=SecretStr(admin)), capsys, offline=True)
    assert "billed cost:     billed cost unavailable: needs an admin key (FAL_ADMIN_KEY)" in without
    assert "billed cost:     read from fal's billing events with FAL_ADMIN_KEY" in with_key
    assert "admin-key-secret" not in with_key


async def test_check_says_which_prices_are_in_force_the_table_or_fal_s_higher_live_price(
    settings: Settings, fake: FakeFal, capsys: pytest.CaptureFixture[str]
) -> None:
    from happyhorse_mcp.domain.catalog import PRICES_AS_OF, TEXT_TO_VIDEO

    _, out = await _check(settings, capsys)
    assert f"prices:          the table as of {PRICES_AS_OF}; fal's live prices read, none above it" in out

    fake.unit_prices[TEXT_TO_VIDEO.endpoints["1.1"]] = 0.21
    _, out = await _check(settings, capsys)
    assert f"fal's live price where it charges more than the table ({PRICES_AS_OF}): " in out
    assert f"{TEXT_TO_VIDEO.endpoints['1.1']} x1.50" in out

    _, out = await _check(settings, capsys, offline=True)
    assert "fal's live prices not read: --offline" in out
