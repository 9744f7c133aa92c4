"""From a built wheel, `uvx` and `pipx run` start the server in clean environments, and it lists its tools."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([str(BIN / "uv"), "build", "--wheel", "--out-dir", str(out), str(ROOT)], check=True, timeout=600)
    (built,) = out.glob("happyhorse_mcp-*.whl")
    return built


def _env(tmp: Path) -> dict[str, str]:
    # The machine's own settings (certificates, package index) pass through, as they would for a user.
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp),
        "HAPPYHORSE_DATA_DIR": str(tmp / "data"),
        "PIPX_HOME": str(tmp / "pipx"),
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
        "UV_TOOL_DIR": str(tmp / "uv-tools"),
    }


def test_uvx_runs_the_wheel_and_prints_help(wheel: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "uvx"), "--from", str(wheel), "happyhorse-mcp", "--help"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "HAPPYHORSE_DAILY_BUDGET_USD" in done.stdout
    assert "--transport {stdio,http}" in done.stdout


def test_pipx_runs_the_wheel_and_prints_help(wheel: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "pipx"), "run", "--spec", str(wheel), "happyhorse-mcp", "--help"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "FAL_KEY" in done.stdout


@pytest.mark.anyio
async def test_the_uvx_installed_server_lists_its_tools_over_stdio(wheel: Path, tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=str(BIN / "uvx"), args=["--from", str(wheel), "happyhorse-mcp"], env=_env(tmp_path)
    )
    with (tmp_path / "stderr.log").open("w") as errlog:
        from mcp.client.stdio import stdio_client

        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            tools = await client.list_tools()
    assert {"generate_video", "estimate_cost"} <= {tool.name for tool in tools.tools}


def test_the_wheel_s_description_carries_the_mcp_name_line(wheel: Path) -> None:
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    assert "mcp-name: io.github.happyhorse-mcp/happyhorse-mcp" in text
