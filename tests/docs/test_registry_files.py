"""manifest.json (an MCPB bundle for Claude Desktop) and server.json (the MCP Registry) stay true to the server."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp import Client

from happyhorse_mcp import __version__
from happyhorse_mcp.config import VARIABLES

ROOT = Path(__file__).resolve().parents[2]
MCPB_SCHEMA = ROOT / ".tools" / "node_modules" / "@anthropic-ai" / "mcpb" / "schemas" / "mcpb-manifest-v0.3.schema.json"


def _load(name: str) -> dict[str, Any]:
    return json.loads((ROOT / name).read_text())  # type: ignore[no-any-return]


@pytest.mark.node
def test_the_mcpb_manifest_is_valid_against_the_published_schema() -> None:
    if not MCPB_SCHEMA.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{MCPB_SCHEMA} is missing: scripts/test installs @anthropic-ai/mcpb with npm")
        pytest.skip("the MCPB schema comes with @anthropic-ai/mcpb; run scripts/test to install it")
    manifest = _load("manifest.json")
    jsonschema.validate(manifest, json.loads(MCPB_SCHEMA.read_text()))
    assert manifest["version"] == __version__
    # PYTHONPATH points Python at the bundle's libraries; every other variable is one the server reads.
    assert set(manifest["server"]["mcp_config"]["env"]) - {"PYTHONPATH"} <= {v.name for v in VARIABLES}


@pytest.mark.anyio
async def test_the_manifest_lists_exactly_the_server_s_tools(client: Client) -> None:
    listed = {tool.name for tool in (await client.list_tools()).tools}
    assert {tool["name"] for tool in _load("manifest.json")["tools"]} == listed


def test_server_json_describes_the_pypi_package_and_its_variables() -> None:
    # The registry's published schema (2025-12-11) cannot be fetched here; these are its required fields and limits.
    server = _load("server.json")
    assert server["$schema"].endswith("/2025-12-11/server.schema.json")
    assert {"name", "description", "version"} <= set(server)
    assert 1 <= len(server["description"]) <= 100
    assert "/" in server["name"]
    assert server["version"] == __version__
    (package,) = server["packages"]
    assert {"registryType", "identifier", "transport"} <= set(package)
    assert (package["registryType"], package["identifier"], package["version"]) == (
        "pypi",
        "happyhorse-mcp",
        __version__,
    )
    assert package["transport"] == {"type": "stdio"}
    variables = {v["name"]: v for v in package["environmentVariables"]}
    assert set(variables) <= {v.name for v in VARIABLES}
    assert variables["FAL_KEY"]["isSecret"] is True


VERSION_RANGE = re.compile(r"^[\^~<>=]|[*xX](\.|$)|\|\|| - ")


def _is_exact_version(version: str) -> bool:
    return version != "latest" and not VERSION_RANGE.search(version)


def test_server_json_keeps_the_official_registry_s_rules() -> None:
    # The rules of the registry's server.schema.json (2025-12-11) and its publishing checks, written out here
    # because the schema cannot be fetched from this machine.
    server = _load("server.json")
    assert re.fullmatch(r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+", server["name"])
    assert 3 <= len(server["name"]) <= 200
    assert 1 <= len(server["description"]) <= 100
    assert _is_exact_version(server["version"])
    # An io.github.<owner> namespace is proven by a GitHub login as <owner>: the repository must be theirs.
    owner = server["name"].split("/")[0].removeprefix("io.github.")
    assert server["repository"] == {"url": f"https://github.com/{owner}/happyhorse-mcp", "source": "github"}
    for package in server["packages"]:
        assert _is_exact_version(package["version"])
        assert set(package) <= {
            "registryType",
            "registryBaseUrl",
            "identifier",
            "version",
            "fileSha256",
            "runtimeHint",
            "transport",
            "runtimeArguments",
            "packageArguments",
            "environmentVariables",
        }
        if package["registryType"] == "pypi":
            assert package.get("registryBaseUrl", "https://pypi.org") == "https://pypi.org"
        transport = package["transport"]
        assert transport["type"] in ("stdio", "streamable-http", "sse")
        assert ("url" in transport) == (transport["type"] != "stdio")
        for variable in package["environmentVariables"]:
            assert set(variable) <= {"name", "description", "isRequired", "format", "isSecret", "default", "value"}
            assert variable.get("format", "string") in ("string", "number", "boolean", "filepath")


def test_the_readme_carries_the_mcp_name_line_the_registry_verifies_pypi_packages_by() -> None:
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["readme"] == "README.md"  # what PyPI shows, and where the registry looks
    assert f"mcp-name: {_load('server.json')['name']}" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("version", ["latest", "^1.2.3", "~1.2", ">=1.0", "1.x", "1.*", "1.0 - 2.0"])
def test_the_version_rule_refuses_what_the_registry_refuses(version: str) -> None:
    assert not _is_exact_version(version)


def test_server_json_lists_a_hosted_deployment_as_a_remote_whose_url_template_is_complete() -> None:
    from happyhorse_mcp.transport.http import MCP_PATH

    (remote,) = _load("server.json")["remotes"]
    assert set(remote) <= {"type", "url", "headers", "variables"}
    assert remote["type"] == "streamable-http"
    assert remote["url"].startswith("https://")
    assert remote["url"].endswith(MCP_PATH)  # where build_app serves MCP
    named = set(re.findall(r"{(\w+)}", remote["url"]))
    assert named == set(remote["variables"])  # every template variable declared, none unused
    for variable in remote["variables"].values():
        assert set(variable) <= {"description", "isRequired", "format", "isSecret", "default", "choices", "value"}
        assert variable["isRequired"] is True
    (header,) = remote["headers"]
    assert (header["name"], header["isSecret"], header["isRequired"]) == ("Authorization", True, False)
