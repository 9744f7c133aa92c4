"""What `happyhorse-mcp` says and refuses before it serves: start-time warnings, refusals with exit code 2, and a
log that never carries a secret. (Serving itself, and what a whole process prints, are in tests/process/.)"""

from __future__ import annotations

import gc
import logging
import socket
import sys
from pathlib import Path

import pytest

from happyhorse_mcp.cli import start as cli
from happyhorse_mcp.cli.start import READ_ONLY_TOOLS, RedactingFilter, build_parser, log_start, main
from happyhorse_mcp.config import Settings

from ..support import clean_environment, free_port

KEY = "key-id:the-secret-part"


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"HOME": str(tmp_path), "HAPPYHORSE_DATA_DIR": str(tmp_path / "data"), **env})


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """main() reads os.environ: a clean one, and the process's logging left to pytest."""
    clean_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("HAPPYHORSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(cli, "configure_logging", lambda *args, **kwargs: None)
    return monkeypatch


@pytest.mark.parametrize(
    ("key", "warning"),
    [
        ("justonepiece", "FAL_KEY: it is malformed: a fal key is key-id:key-secret"),
        ("your-fal-key-id:your-fal-key-secret", "FAL_KEY: it is still the example's placeholder"),
        (None, "no fal credentials (FAL_KEY, or `fal auth login`)"),
    ],
)
def test_a_key_that_will_not_work_is_warned_about_at_start_by_its_variable_never_its_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, key: str | None, warning: str
) -> None:
    with caplog.at_level(logging.INFO, logger="happyhorse_mcp"):
        log_start(_settings(tmp_path, **({"FAL_KEY": key} if key else {})))
    said = _warnings(caplog)
    assert len(said) == 1, said
    assert said[0].startswith(warning)
    assert key is None or key not in caplog.text


def test_a_good_key_and_working_folders_start_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "Pictures").mkdir()
    with caplog.at_level(logging.INFO, logger="happyhorse_mcp"):
        log_start(_settings(tmp_path, FAL_KEY=KEY, HAPPYHORSE_ALLOWED_DIRS=str(tmp_path / "Pictures")))
    assert _warnings(caplog) == []
    assert f"data in {tmp_path / 'data'}" in caplog.text


def test_a_missing_allowed_folder_and_an_unwritable_output_folder_are_each_named_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if sys.platform == "win32":
        pytest.skip("a file standing where a folder is named is enough elsewhere")
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with caplog.at_level(logging.INFO, logger="happyhorse_mcp"):
        log_start(
            _settings(
                tmp_path,
                FAL_KEY=KEY,
                HAPPYHORSE_ALLOWED_DIRS=str(tmp_path / "Gone"),
                HAPPYHORSE_OUTPUT_DIR=str(blocked / "videos"),
            )
        )
    said = _warnings(caplog)
    assert any(f"HAPPYHORSE_ALLOWED_DIRS names {tmp_path / 'Gone'}, which does not exist" in line for line in said)
    assert any(line.startswith("HAPPYHORSE_OUTPUT_DIR: ") for line in said), said


def test_no_log_line_carries_a_secret_in_its_message_its_arguments_or_its_traceback() -> None:
    secret = "the-secret-part"
    redact = RedactingFilter([secret, ""])
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "sending %s", (f"Key {secret}",), None)
    try:
        raise RuntimeError(f"Authorization: Key {secret}")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    assert redact.filter(record)
    assert record.getMessage() == "sending Key [redacted]"
    assert record.exc_text is not None
    assert secret not in record.exc_text
    assert "[redacted]" in record.exc_text


def test_no_log_line_carries_a_live_key_page_link_whatever_logged_it() -> None:
    record = logging.LogRecord(
        "mcp", logging.INFO, __file__, 1, "Tool %r failed: %r", ("fal_key", "Open https://h/keys/" + "A1_-" * 12), None
    )
    assert RedactingFilter([]).filter(record)
    assert "/keys/[link]" in record.getMessage()
    assert "A1_-" not in record.getMessage()


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What main() writes on stderr as it stops with exit code 2, having written nothing on stdout."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    return err


def test_a_malformed_setting_stops_the_server_naming_it(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("HAPPYHORSE_FAL_QUEUE_URL", "queue.fal.run")
    assert "HAPPYHORSE_FAL_QUEUE_URL must be an http(s) URL" in _refused([], capsys)


def test_an_unknown_tool_name_stops_the_server_at_start(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "unknown tool(s) in --tools: make_coffee" in _refused(["--tools", "estimate_cost,make_coffee"], capsys)


def test_the_server_will_not_listen_on_an_open_address_without_a_token(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    said = _refused(["--transport", "http", "--host", "0.0.0.0"], capsys)
    assert "refusing to listen on 0.0.0.0 without a token" in said


def test_a_port_another_program_listens_on_is_refused_before_the_server_says_it_serves(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        said = _refused(["--transport", "http", "--port", str(port)], capsys)
    assert f"port {port} on 127.0.0.1 is already in use by another program: choose another with --port" in said
    assert "serving MCP at" not in said


@pytest.fixture
def served(environment: pytest.MonkeyPatch) -> list[object]:
    """What `serve_http` was called with: main() runs up to serving, and serves nothing."""
    from happyhorse_mcp.transport import http

    calls: list[object] = []

    async def serve(*args: object) -> None:
        calls.append(args)

    environment.setattr(http, "serve_http", serve)
    return calls


def test_an_http_server_without_a_token_warns_that_any_local_program_can_spend(
    served: list[object], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="happyhorse_mcp"):
        main(["--transport", "http", "--port", str(free_port())])
    assert served, "the server was not started"
    assert "serving HTTP without a token: any program on this machine can call the tools" in caplog.text


def test_the_server_serves_with_the_garbage_collector_on_and_what_its_start_made_left_out_of_its_passes(
    environment: pytest.MonkeyPatch,
) -> None:
    from happyhorse_mcp.transport import http

    seen: list[tuple[bool, int]] = []

    async def serve(*args: object) -> None:
        seen.append((gc.isenabled(), gc.get_freeze_count()))

    environment.setattr(http, "serve_http", serve)
    before = gc.get_freeze_count()
    main(["--transport", "http", "--port", str(free_port())])
    [(collecting, frozen)] = seen
    assert collecting
    assert frozen > before


def test_an_http_server_with_named_tokens_says_how_many_users_sign_in_and_warns_of_nothing(
    environment: pytest.MonkeyPatch, served: list[object], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("alice alice-token-0123456789abcdef\nbob bob-token-0123456789abcdef\n")
    environment.setenv("HAPPYHORSE_HTTP_TOKENS_FILE", str(tokens))
    with caplog.at_level(logging.INFO, logger="happyhorse_mcp"):
        main(["--transport", "http", "--port", str(free_port())])
    assert served, "the server was not started"
    assert "sign-in: named tokens for 2 user(s)" in caplog.text
    assert "without a token" not in caplog.text
    assert "alice-token" not in caplog.text


def test_the_key_is_never_an_option() -> None:
    options = {opt for action in build_parser()._actions for opt in action.option_strings}
    assert not [opt for opt in options if "key" in opt.lower() or "token" in opt.lower()]


def test_help_names_exactly_the_tools_read_only_offers() -> None:
    from happyhorse_mcp.server import create_server, select_tools

    assert list(READ_ONLY_TOOLS) == select_tools(create_server(Settings(fal_key=None)), read_only=True)
    assert ", ".join(READ_ONLY_TOOLS) in " ".join(build_parser().format_help().split())


def test_every_variable_is_explained_in_help() -> None:
    from happyhorse_mcp.config import VARIABLES

    text = build_parser().format_help()
    assert all(variable.name in text for variable in VARIABLES)


def test_a_mistyped_setting_is_named_with_its_correction_at_start(
    environment: pytest.MonkeyPatch, served: list[object], caplog: pytest.LogCaptureFixture
) -> None:
    environment.setenv("HAPPYHORSE_ALLOWED_DIR", "/tmp")  # no S
    environment.setenv("FAL_KEYS", "x")  # close to FAL_KEY
    environment.setenv("FAL_RUN_HOST", "x")  # fal's own tools read it: not ours to judge
    with caplog.at_level(logging.INFO, logger="happyhorse_mcp"):
        main(["--transport", "http", "--port", str(free_port())])
    said = _warnings(caplog)
    assert any(
        "HAPPYHORSE_ALLOWED_DIR is not a setting" in line and "HAPPYHORSE_ALLOWED_DIRS?" in line for line in said
    )
    assert any(line.startswith("FAL_KEYS is not a setting") and "FAL_KEY?" in line for line in said)
    assert not any("FAL_RUN_HOST" in line for line in said)
