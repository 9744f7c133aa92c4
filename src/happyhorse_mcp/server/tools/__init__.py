"""The server's tools, one module per family. A new generation tool is a spec in `domain/catalog.py` and a module
here that registers it with its explicit signature; everything else (checks, price, confirmation, submit, docs)
follows from the spec."""

from typing import Any

from mcp.server import MCPServer

from . import edit_video, estimate, image_to_video, jobs, reference_to_video, review, text_to_video

MODULES = (text_to_video, image_to_video, reference_to_video, edit_video, estimate, jobs, review)


def register_tools(mcp: MCPServer[Any]) -> None:
    for module in MODULES:
        module.register(mcp)
