"""Where the tool modules put their tools."""

from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server.mcpserver.tools import Tool

_Fn = TypeVar("_Fn", bound=Callable[..., Any])


class ToolShelf:
    """What the tool modules register on, with MCPServer's `tool` decorator's arguments. The tools take everything
    they need from the request's context, so the SDK's Tool (an argument model and two JSON schemas for each) is
    built once per process, not once for every server made in it."""

    def __init__(self) -> None:
        self.tools: list[Tool] = []

    def tool(self, name: str, **kwargs: Any) -> Callable[[_Fn], _Fn]:
        def decorate(fn: _Fn) -> _Fn:
            self.tools.append(Tool.from_function(fn, name=name, **kwargs))
            return fn

        return decorate
