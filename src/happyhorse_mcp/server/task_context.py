"""Whether the tool call running now was asked to become an MCP task, and the job it started: tasks.py binds a
`TaskBinding` around the call, the generation body reads it when it starts the job (so the record says so from its
first write) and puts the job in it, and tasks.py reads the job back as a value. A context variable carries it
because the SDK's middleware has no other way to hand a request's state to the tool it calls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ..domain.models import Job, TaskHandle


@dataclass
class TaskBinding:
    handle: TaskHandle
    job: Job | None = None


_BOUND: ContextVar[TaskBinding | None] = ContextVar("happyhorse_task_binding", default=None)


@contextmanager
def binding_task(handle: TaskHandle) -> Iterator[TaskBinding]:
    """Around a tool call that is to become a task."""
    binding = TaskBinding(handle)
    token = _BOUND.set(binding)
    try:
        yield binding
    finally:
        _BOUND.reset(token)


def bound_task() -> TaskBinding | None:
    """In a generation body: the binding when the call is to become a task, else None."""
    return _BOUND.get()
