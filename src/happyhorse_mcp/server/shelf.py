"""Definitions built once per process and handed to every server made in it."""

from collections.abc import Callable
from typing import Any, Generic, TypeVar

_Fn = TypeVar("_Fn", bound=Callable[..., Any])
_Made = TypeVar("_Made")


class Shelf(Generic[_Made]):
    """An MCPServer decorator (`tool`, `prompt`, `resource` for a template) that collects instead of registering: what
    it makes of each function (the SDK's Tool, Prompt or ResourceTemplate: an argument model and JSON schemas) takes
    nothing from a server, so it is made once per process, not once for every server made in it."""

    def __init__(self, make: Callable[..., _Made]) -> None:
        self.made: list[_Made] = []
        self._make = make

    def put(self, **kwargs: Any) -> Callable[[_Fn], _Fn]:
        def add(fn: _Fn) -> _Fn:
            self.made.append(self._make(fn, **kwargs))
            return fn

        return add
