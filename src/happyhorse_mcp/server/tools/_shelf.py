"""Where the tool modules put their tools."""

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, get_args, get_origin

from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import CallToolResult

from ..shelf import Shelf

_Fn = TypeVar("_Fn", bound=Callable[..., Any])


@functools.cache
def _output_schema(model: type) -> dict[str, Any] | None:
    """The output schema the SDK publishes for `model`, made its way, once."""
    return FuncMetadata(arg_model=ArgModelBase, output_model=model).output_schema


def _declared_output(fn: Callable[..., Any]) -> type | None:
    """The model an `Annotated[CallToolResult, Model]` return validates its structured content against."""
    returned = inspect.signature(fn, eval_str=True).return_annotation
    if get_origin(returned) is Annotated:
        result, *metadata = get_args(returned)
        if result is CallToolResult and metadata and isinstance(metadata[0], type):
            return metadata[0]
    return None


def tool_from_function(fn: Callable[..., Any], **kwargs: Any) -> Tool:
    """The SDK's Tool for `fn`, with each output model's schema made once per process: most tools answer with a
    JobResult, and the SDK would build its JSON schema again for each (about 40 ms of every start). The SDK reads
    the output model and schema from the tool's metadata on each call, so setting them after is what it would have
    made itself."""
    output = _declared_output(fn)
    if output is None:
        return Tool.from_function(fn, **kwargs)
    tool = Tool.from_function(fn, structured_output=False, **kwargs)
    tool.fn_metadata.output_model = output
    tool.fn_metadata.output_schema = _output_schema(output)
    return tool


class ToolShelf(Shelf[Tool]):
    """What the tool modules register on, with MCPServer's `tool` decorator's arguments. The tools take everything
    they need from the request's context."""

    def __init__(self) -> None:
        super().__init__(tool_from_function)

    def tool(self, name: str, **kwargs: Any) -> Callable[[_Fn], _Fn]:
        return self.put(name=name, **kwargs)
