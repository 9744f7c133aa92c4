"""Where the tool modules put their tools."""

from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server.mcpserver.tools import Tool

from ..shelf import Shelf

_Fn = TypeVar("_Fn", bound=Callable[..., Any])


class ToolShelf(Shelf[Tool]):
    """What the tool modules register on, with MCPServer's `tool` decorator's arguments. The tools take everything
    they need from the request's context."""

    def __init__(self) -> None:
        super().__init__(Tool.from_function)

    def tool(self, name: str, **kwargs: Any) -> Callable[[_Fn], _Fn]:
        return self.put(name=name, **kwargs)
