"""The server's tools, one module per family. A new generation tool is a spec in `domain/catalog.py` and a module
here that registers it with its explicit signature; everything else (checks, price, confirmation, submit, docs)
follows from the spec."""

import functools

from mcp.server.mcpserver.tools import Tool

from . import edit_video, estimate, film, image_to_video, jobs, keys, reference_to_video, review, text_to_video
from ._shelf import ToolShelf

MODULES = (text_to_video, image_to_video, reference_to_video, edit_video, film, estimate, jobs, review, keys)


@functools.cache
def _shelved() -> tuple[Tool, ...]:
    shelf = ToolShelf()
    for module in MODULES:
        module.register(shelf)
    return tuple(shelf.made)


def tool_definitions() -> list[Tool]:
    """Every tool, to pass to a new server (`MCPServer(tools=...)`)."""
    return list(_shelved())
