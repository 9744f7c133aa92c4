"""Checks that plain types cannot express. They run as argument validation, before any confirmation or submit,
so a refusal names the field, the limit and the value given, and nothing is sent."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import AfterValidator, StringConstraints

from .catalog import ASPECT_RATIOS, MAX_PROMPT_CHARS, Version
from .media import is_local


def _media_url(value: str) -> str:
    """An http(s) URL (passed to fal as is), a data: URI, or a local path (checked and uploaded later)."""
    value = value.strip()
    if is_local(value):
        return value
    if value.startswith("data:"):
        if "," not in value:
            raise ValueError("a data: URI needs a ',' before its payload")
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL, a data: URI, or a local file path (absolute, ~ or file://)")
    return value


def _has_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain text (1 to 2500 characters), not only spaces")
    return value


MediaUrl = Annotated[str, AfterValidator(_media_url)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PROMPT_CHARS), AfterValidator(_has_text)]


def check_aspect_ratio(version: Version, aspect_ratio: str) -> None:
    allowed = ASPECT_RATIOS[version]
    if aspect_ratio not in allowed:
        raise ToolError(
            f"Invalid argument aspect_ratio: version {version} offers {', '.join(allowed)} (21:9, 9:21, 5:4 and 4:5 "
            f"need version 1.1); got {aspect_ratio!r}. Nothing was submitted."
        )
