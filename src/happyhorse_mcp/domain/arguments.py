"""The rules one argument obeys wherever it is given: a clip tool's signature and a film's shot read the same types,
so a shot is refused exactly as the clip tool it becomes would refuse it (a blank prompt, an ftp:// image). Pure."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, StringConstraints

from .catalog import MAX_PROMPT_CHARS


def is_local(value: str) -> bool:
    """Whether a media value names a file on this machine: a path (absolute or ~) or a file:// URL."""
    return value.startswith(("/", "~", "file://")) or (len(value) > 2 and value[1] == ":" and value[2] in "\\/")


def media_url(value: str) -> str:
    """An http(s) URL (passed to fal as is), a data: URI, or a local path (checked and uploaded later)."""
    value = value.strip()
    if is_local(value):
        return value
    if value.startswith("data:"):
        if "," not in value:
            raise ValueError("must be a data: URI with a ',' before its payload")
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL, a data: URI, or a local file path (absolute, ~ or file://)")
    return value


def has_text(value: str) -> str:
    if not value.strip():
        raise ValueError(f"must contain text (1 to {MAX_PROMPT_CHARS} characters), not only spaces")
    return value


MediaUrl = Annotated[str, AfterValidator(media_url)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PROMPT_CHARS), AfterValidator(has_text)]
