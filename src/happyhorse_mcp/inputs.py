"""Checks that the argument types alone cannot express; each refusal names the field, the limit and the value."""

from __future__ import annotations

from urllib.parse import urlsplit

from mcp.server.mcpserver.exceptions import ToolError

from .catalog import ASPECT_RATIOS, Version


class InvalidArgumentError(ToolError):
    def __init__(self, field: str, problem: str, value: object) -> None:
        shown = repr(value)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        super().__init__(f"Invalid argument {field}: {problem}; got {shown}. Nothing was submitted.")


def check_prompt(field: str, value: str) -> str:
    if not value.strip():
        raise InvalidArgumentError(field, "must contain text (1 to 2500 characters)", value)
    return value


def check_aspect_ratio(version: Version, aspect_ratio: str) -> None:
    allowed = ASPECT_RATIOS[version]
    if aspect_ratio not in allowed:
        raise InvalidArgumentError(
            "aspect_ratio",
            f"version {version} offers {', '.join(allowed)} (21:9, 9:21, 5:4 and 4:5 need version 1.1)",
            aspect_ratio,
        )


def check_media_url(field: str, value: str) -> str:
    """An http(s) URL, passed to fal as is, or a data: URI."""
    value = value.strip()
    if value.startswith("data:"):
        if "," not in value:
            raise InvalidArgumentError(field, "a data: URI needs a ',' before its payload", value)
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgumentError(field, "must be an http(s) URL or a data: URI", value)
    return value
