"""The one place domain errors become MCP errors: tool errors (an `isError` result the model reads) and resource
errors (not found, or failed). Everything below the server raises only `HappyHorseError`s."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError

from ..domain.errors import HappyHorseError, JobNotFoundError, UnknownJobError

P = ParamSpec("P")
R = TypeVar("R")

NOT_FOUND = (UnknownJobError, JobNotFoundError)


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """For tools and their resolvers. Keeps `fn`'s signature, which the SDK reads to build the schema."""

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except HappyHorseError as exc:
            raise ToolError(exc.message) from exc

    return call


def resource_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def read(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except NOT_FOUND as exc:
            raise ResourceNotFoundError(exc.message) from exc
        except HappyHorseError as exc:
            raise ResourceError(exc.message) from exc

    return read
