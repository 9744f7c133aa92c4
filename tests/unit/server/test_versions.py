"""Each protocol version receives only what it defines: a tool and a tool result are fitted to the version."""

from __future__ import annotations

from typing import Any

import pytest

from happyhorse_mcp.server.versions import fit_tool, fit_tool_result


def _tool() -> dict[str, Any]:
    return {
        "name": "generate_video",
        "title": "Generate a video",
        "inputSchema": {"type": "object"},
        "outputSchema": {"type": "object"},
        "annotations": {"readOnlyHint": False},
        "_meta": {"ui": {"resourceUri": "ui://player"}},
        "execution": {"taskSupport": "optional"},
    }


@pytest.mark.parametrize(
    ("version", "kept"),
    [
        ("2024-11-05", {"name", "inputSchema"}),
        ("2025-03-26", {"name", "inputSchema", "annotations"}),
        ("2025-06-18", {"name", "inputSchema", "annotations", "title", "outputSchema", "_meta"}),
        ("2025-11-25", {"name", "inputSchema", "annotations", "title", "outputSchema", "_meta", "execution"}),
        (None, {"name", "inputSchema", "annotations", "title", "outputSchema", "_meta", "execution"}),
    ],
)
def test_a_tool_keeps_only_the_fields_its_client_s_version_defines(version: str | None, kept: set[str]) -> None:
    assert set(fit_tool(_tool(), version)) == kept


def test_a_result_before_2025_06_18_loses_resource_links_and_structured_content_and_keeps_its_text() -> None:
    result = {
        "content": [{"type": "text", "text": "Video ready"}, {"type": "resource_link", "uri": "happyhorse://jobs/x"}],
        "structuredContent": {"job_id": "x"},
    }
    old = fit_tool_result({**result, "content": list(result["content"])}, "2025-03-26")
    assert old == {"content": [{"type": "text", "text": "Video ready"}]}
    assert fit_tool_result(dict(result), "2025-06-18") == result
