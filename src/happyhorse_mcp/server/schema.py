"""Smaller tool schemas: every conversation pays for tools/list in context, so it carries only what a model uses.

pydantic's JSON schemas repeat a `title` on every property, spell optional values as `anyOf [T, null]` with
`default: null` (`type: [T, "null"]` says the same), and copy field descriptions into output schemas (the README
documents results). The compact form says the same to a validator.
"""

from __future__ import annotations

from typing import Any


def compact(node: Any, *, keep_descriptions: bool = True) -> Any:
    if isinstance(node, list):
        return [compact(item, keep_descriptions=keep_descriptions) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: compact(value, keep_descriptions=keep_descriptions)
        for key, value in node.items()
        if not (key == "title" and isinstance(value, str))
        and not (key == "description" and isinstance(value, str) and not keep_descriptions)
    }
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        (other,) = [option for option in options if option != {"type": "null"}]
        if isinstance(other.get("type"), str):
            # Type-specific keywords (maxLength, minimum...) ignore null, so they can sit beside the type list.
            del out["anyOf"]
            out.update({**other, "type": [other["type"], "null"]})
    if "default" in out and out["default"] is None:
        del out["default"]
    return out
