"""Smaller tool schemas: every conversation pays for tools/list in context, so it carries only what a model uses; and
portable ones, since hosts map them onto narrower dialects (Gemini-style function declarations take one `type` per
property and no `null`).

pydantic's JSON schemas repeat a `title` on every property, spell optional values as `anyOf [T, null]` with
`default: null`, and copy field descriptions into output schemas (the README documents results). In an input schema
an optional argument is simply not required: its one type is kept and the null branch dropped (the server takes an
absent argument and a null one alike). In an output schema a field that may be null keeps its `anyOf`, so a validator
reads the same contract. A `type` list is never written: the MCP Inspector's --strict mode counts each as a
portability warning.
"""

from __future__ import annotations

import functools
import json
from typing import Any


def compact(node: Any, *, keep_descriptions: bool = True, input_schema: bool = True) -> Any:
    if isinstance(node, list):
        return [compact(item, keep_descriptions=keep_descriptions, input_schema=input_schema) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: compact(value, keep_descriptions=keep_descriptions, input_schema=input_schema)
        for key, value in node.items()
        if not (key == "title" and isinstance(value, str))
        and not (key == "description" and isinstance(value, str) and not keep_descriptions)
    }
    options = out.get("anyOf")
    if input_schema and isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        (other,) = [option for option in options if option != {"type": "null"}]
        # An optional argument: its one type, with its constraints; absent and null mean the same to the server.
        del out["anyOf"]
        out.update(other)
    if "default" in out and out["default"] is None:
        del out["default"]
    return out


def compact_once(schema: Any, *, keep_descriptions: bool = True, input_schema: bool = True) -> Any:
    """`compact`, made once per distinct schema: every server made in a process lists the same tool definitions
    (tools/__init__.py). The result is shared, read only: it is only ever serialized."""
    return _compacted(json.dumps(schema), keep_descriptions, input_schema)


@functools.lru_cache(maxsize=256)
def _compacted(schema_text: str, keep_descriptions: bool, input_schema: bool) -> Any:
    # Keyed on the schema's JSON text, much cheaper to make than the compacting.
    return compact(json.loads(schema_text), keep_descriptions=keep_descriptions, input_schema=input_schema)
