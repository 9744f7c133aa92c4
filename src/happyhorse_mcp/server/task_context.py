"""Whether the tool call running now was asked to become an MCP task: set by tasks.py around the call, read where the
job is admitted, so the record says so from its first write."""

from contextvars import ContextVar

from ..domain.models import TaskHandle

REQUESTED_TASK: ContextVar[TaskHandle | None] = ContextVar("happyhorse_requested_task", default=None)
