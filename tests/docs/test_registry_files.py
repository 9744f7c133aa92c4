"""manifest.json (an MCPB bundle for Claude Desktop) and server.json (the MCP Registry) stay true to the server."""

from __future__ import annotations

import json
import os
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


def test_the_mcpb_manifest_is_valid_against_the_published_schema() -> None:
    if not MCPB_SCHEMA.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{MCPB_SCHEMA} is missing: scripts/test installs @anthropic-ai/mcpb with npm")
        pytest.skip("the MCPB schema comes with @anthropic-ai/mcpb; run scripts/test to install it")
    manifest = _load("manifest.json")
    jsonschema.validate(manifest, json.loads(MCPB_SCHEMA.read_text()))
    assert manifest["version"] == __version__
    assert set(manifest["server"]["mcp_config"]["env"]) <= {v.name for v in VARIABLES}


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
