"""Answers fitted to the protocol version a client negotiated: nothing is sent that its version does not define.

A client of an older version validates what it receives against that version's schema, and some reject a whole
result for one field they do not know: the Python SDK 1.9 and the TypeScript SDK 1.12, on 2025-03-26, lose every
finished video to a `resource_link` block. docs/protocol-versions.md has the table of what each version introduced
and what is left out before it; tests/e2e/test_protocol_versions.py speaks each version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp_types.version import is_version_at_least

CallNext = Callable[[ServerRequestContext[Any, Any]], Awaitable[Any]]

ANNOTATIONS_SINCE = "2025-03-26"
STRUCTURED_SINCE = "2025-06-18"  # resource links, structured content, output schemas, titles, a tool's _meta
TASKS_SINCE = "2025-11-25"


def _at_least(version: str | None, since: str) -> bool:
    return version is None or is_version_at_least(version, since)


def fit_tool(tool: dict[str, Any], version: str | None) -> dict[str, Any]:
    """A tools/list entry as `version` defines a tool."""
    if not _at_least(version, STRUCTURED_SINCE):
        for key in ("outputSchema", "title", "_meta", "icons"):
            tool.pop(key, None)
    if not _at_least(version, ANNOTATIONS_SINCE):
        tool.pop("annotations", None)
    if not _at_least(version, TASKS_SINCE):
        tool.pop("execution", None)
    return tool


def fit_tool_result(result: dict[str, Any], version: str | None) -> dict[str, Any]:
    """A tools/call result as `version` defines one."""
    if not _at_least(version, STRUCTURED_SINCE):
        result["content"] = [block for block in result.get("content", []) if block.get("type") != "resource_link"]
        result.pop("structuredContent", None)
    return result


async def version_gate(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
    """Middleware: every answer fitted to the client's version (outermost, so it sees what the others added)."""
    result = await call_next(ctx)
    version = ctx.protocol_version
    if not isinstance(result, dict) or (ctx.method != "initialize" and _at_least(version, TASKS_SINCE)):
        return result
    if ctx.method == "initialize":  # the request's own version is not yet the negotiated one: the answer's is
        if not _at_least(result.get("protocolVersion"), TASKS_SINCE):
            result.get("capabilities", {}).pop("tasks", None)
    elif ctx.method == "tools/list":
        result["tools"] = [fit_tool(tool, version) for tool in result.get("tools", [])]
    elif ctx.method == "tools/call" and "content" in result:
        fit_tool_result(result, version)
    elif ctx.method in ("resources/list", "resources/templates/list", "prompts/list") and not _at_least(
        version, STRUCTURED_SINCE
    ):
        for key in ("resources", "resourceTemplates", "prompts"):
            for item in result.get(key, []):
                item.pop("title", None)
    return result
