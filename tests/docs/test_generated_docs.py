"""README's tables and manifest.json's tool list are made from the code: a drift fails here."""

from __future__ import annotations

import pytest

from happyhorse_mcp.cli.docs_tables import BLOCK, generate

pytestmark = pytest.mark.anyio


async def test_readme_tables_and_the_manifest_s_tools_match_the_code() -> None:
    for path, text in (await generate()).items():
        assert path.read_text() == text, f"{path.name} drifted from the code: run scripts/generate-docs"


async def test_readme_has_every_generated_block() -> None:
    readme = next(path for path in await generate() if path.name == "README.md").read_text()
    assert {match["name"] for match in BLOCK.finditer(readme)} == {"tools", "limits", "prices", "configuration"}
