"""The examples parse, start the real command with real variables, and run."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import mcp.client.stdio  # noqa: F401
import pytest

from happyhorse_mcp.config import VARIABLES

from ..prices import dollars, usd

# mcp.client.stdio (imported above, at collection) sends its servers' stderr to the sys.stderr of its import: pytest's
# for the whole run then, not the capture of the test that happens to import it first (closed when that test ends).
EXAMPLES = Path(__file__).parents[2] / "examples"
CONFIGS = sorted([*EXAMPLES.rglob("*.json"), *EXAMPLES.rglob(".mcp.json")])


def _servers(config: dict[str, Any]) -> dict[str, Any]:
    return config.get("mcpServers") or config["servers"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(EXAMPLES)) for p in CONFIGS])
def test_every_host_config_sets_the_key_and_only_variables_the_server_reads(path: Path) -> None:
    # That each one starts the server from this checkout: tests/process/test_host_configs.py.
    server = _servers(json.loads(path.read_text()))["happyhorse"]
    assert "FAL_KEY" in server["env"]
    assert set(server["env"]) <= {v.name for v in VARIABLES} | {"FAL_KEY"}


def test_there_is_a_config_for_each_host() -> None:
    names = {str(p.relative_to(EXAMPLES)) for p in CONFIGS}
    assert names == {
        "claude_desktop_config.json",
        "claude-code/.mcp.json",
        "cursor/mcp.json",
        "vscode/mcp.json",
        "windsurf/mcp_config.json",
    }


def test_the_vscode_config_asks_for_the_key_as_a_secret_input() -> None:
    config = json.loads((EXAMPLES / "vscode" / "mcp.json").read_text())
    (prompt,) = config["inputs"]
    assert prompt["password"] is True
    assert config["servers"]["happyhorse"]["env"]["FAL_KEY"] == f"${{input:{prompt['id']}}}"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("estimate_and_generate.py", [f"{dollars(usd(duration=3, resolution='720p'))} for", "Set FAL_KEY"]),
        (
            "three_shot_story.py",
            [
                f"shot 1: 5 s, {dollars(usd(duration=5, resolution='720p'))}",
                f"total: {dollars(sum(usd(duration=s, resolution='720p') for s in (5, 5, 4)))} for 3 shots",
                "Stopping here",
            ],
        ),
    ],
)
def test_the_python_examples_estimate_without_a_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    script: str,
    expected: list[str],
) -> None:
    # As `python examples/<script>` runs it, without a key, in this process; the server it starts is a process.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / script)])
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    printed = capsys.readouterr().out
    for line in expected:
        assert line in printed


def test_an_example_keeps_the_caller_s_environment_so_the_sandbox_makes_its_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The examples built the server's environment from scratch: nothing from the shell (a proxy, a CA bundle, the
    # sandbox) reached it.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.setenv("HAPPYHORSE_SANDBOX", "1")
    monkeypatch.setenv("HAPPYHORSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / "estimate_and_generate.py"), "a horse"])
    runpy.run_path(str(EXAMPLES / "estimate_and_generate.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "[Sandbox:" in printed
    assert (tmp_path / "happyhorse.mp4").stat().st_size > 0
    assert (tmp_path / "data" / "sandbox" / "jobs.sqlite3").exists(), "the caller's data folder reached the server"
