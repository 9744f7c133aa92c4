"""MCP Tasks for the generation tools, on both eras, backed by the job store: a task is a job, its id the job id.

- 2025-11-25 (experimental core tasks, SEP-1686): `capabilities.tasks`, tools' `execution.taskSupport: "optional"`,
  `tools/call` with `params.task` answers `{"task": Task}`; `tasks/get`, a blocking `tasks/result`, `tasks/list`,
  `tasks/cancel`; `notifications/tasks/status` as the job changes.
- 2026-07-28 (the extension io.modelcontextprotocol/tasks, SEP-2663): a `tools/call` whose request declares the
  extension answers `{"resultType": "task", ...}`; `tasks/get` inlines the result; `tasks/update` and `tasks/cancel`
  acknowledge; `tasks/*` from a client without the extension get -32021.

The call itself runs as a plain call does (arguments checked, price quoted, a spend confirmation asked, the job
admitted and submitted) with `wait_seconds=0`; what comes back is a job, and the job becomes the task. A call that
ends before a job exists (a refusal, a bad argument, a confirmation still to answer) is answered as a plain call.
Because the job is the task, tasks survive restarts and are shared by processes and replicas like jobs, and
`tasks/get` and `get_job` always agree.

What this needs of the SDK beyond its public API (low-level request handlers for `tasks/*`, the `extensions` map, a
connection's outbound channel for status notifications) is reached through sdk_hooks.py; `MCPServer(middleware=...)`
is public.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC
from typing import TYPE_CHECKING, Any

from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import MCP_NAME_HEADER, decode_header_value
from mcp.types import (
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
)
from mcp.types import RequestParams as SdkRequestParams
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from ..domain.errors import HappyHorseError
from ..domain.film import SPENDING_TOOLS
from ..domain.models import Job, TaskHandle, utcnow
from .identity import caller
from .sdk_hooks import connection_of, lowlevel_server
from .task_context import binding_task
from .tools._shared import job_result

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.connection import Connection

    from .state import AppState

logger = logging.getLogger(__name__)

EXTENSION = "io.modelcontextprotocol/tasks"
RELATED_TASK = "io.modelcontextprotocol/related-task"
IMMEDIATE_RESPONSE = "io.modelcontextprotocol/model-immediate-response"
TASK_TOOLS = SPENDING_TOOLS
DEFAULT_TTL_MS = 24 * 3600 * 1000
MAX_TTL_MS = 7 * 24 * 3600 * 1000
LISTED_TASKS = 100
RESULT_WAIT_SECONDS = 600
# How long tasks/cancel waits for a job fal accepted the cancel of to end, so the answer can say `cancelled`.
CANCEL_SETTLE_SECONDS = 5

CallNext = Callable[[ServerRequestContext[Any, Any]], Awaitable[Any]]


class TaskIdParams(SdkRequestParams):
    """`{taskId}`; unknown keys are ignored (the TypeScript SDK 1.x sends `task` on `tasks/get` too)."""

    task_id: str


class UpdateParams(TaskIdParams):
    input_responses: dict[str, Any] | None = None


class ListParams(SdkRequestParams):
    cursor: str | None = None


def _modern(ctx: ServerRequestContext[Any, Any]) -> bool:
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def _declared(ctx: ServerRequestContext[Any, Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    extensions = capabilities.extensions if capabilities is not None else None
    return bool(extensions) and EXTENSION in extensions  # type: ignore[operator]


def _iso(moment: Any) -> str:
    return str(moment.astimezone(UTC).isoformat().replace("+00:00", "Z"))


def _status(job: Job, *, modern: bool) -> str:
    if not job.finished:
        return "working"
    if job.status == "cancelled":
        return "cancelled"
    if job.status == "completed" or modern:  # 2026-07-28: a tool result with isError is still `completed`
        return "completed"
    return "failed"


def _message(job: Job) -> str | None:
    if not job.finished:
        return job.phase
    if job.status == "completed":
        return "Video ready"
    if job.status == "cancelled":
        return "Cancelled"
    return job.error.message if job.error is not None else None


def task_view(job: Job, *, modern: bool, poll_ms: int, detailed: bool = False) -> dict[str, Any]:
    """The job as a Task: 2025-11-25's (`ttl`, `pollInterval`) or 2026-07-28's (`ttlMs`, `pollIntervalMs`; with the
    result inline when `detailed`)."""
    ttl = job.task.ttl_ms if job.task is not None else None
    view: dict[str, Any] = {
        "taskId": job.job_id,
        "status": _status(job, modern=modern),
        "createdAt": _iso(job.created_at),
        "lastUpdatedAt": _iso(job.updated_at),
        "ttlMs" if modern else "ttl": ttl,
        "pollIntervalMs" if modern else "pollInterval": poll_ms,
    }
    if (message := _message(job)) is not None:
        view["statusMessage"] = message
    if detailed and modern and job.finished and job.status != "cancelled":
        view["result"] = _tool_result(job)
    return view


def _tool_result(job: Job) -> dict[str, Any]:
    """The generation tool's own result for a finished job: what a plain call would have returned."""
    return job_result(job, error_if_failed=True).model_dump(by_alias=True, mode="json", exclude_none=True)


def _check_name_header(ctx: ServerRequestContext[Any, Any], task_id: str) -> None:
    """On Streamable HTTP, a 2026-07-28 client names the task in `Mcp-Name` on every tasks/* request; the SDK checks
    that header for tools/call, prompts/get and resources/read only, so tasks/* are checked here the same way."""
    headers = getattr(ctx.request, "headers", None)
    if not _modern(ctx) or headers is None:
        return  # stdio, or the 2025-11-25 era: no such header
    if decode_header_value(headers.get(MCP_NAME_HEADER)) != task_id:
        raise MCPError(
            HEADER_MISMATCH, f"{MCP_NAME_HEADER} header does not match the request body's 'taskId' parameter"
        )


def _not_found(task_id: str, why: str = "no such task") -> MCPError:
    return MCPError(INVALID_PARAMS, f"Failed to retrieve task {task_id}: {why}. list_jobs shows this server's jobs.")


class TaskService:
    """The tasks of one server: created around tool calls, read from the job store."""

    def __init__(self, *, poll_ms: int) -> None:
        self._poll_ms = poll_ms
        # Connections on 2025-11-25 that created tasks, for status notifications; dropped with the connection.
        self._listeners: dict[str, set[Connection]] = {}

    # -- the middleware: tools/call, and the handshake and tools/list of 2025-11-25 ---------------------------------

    async def middleware(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        if ctx.method == "initialize":
            result = await call_next(ctx)
            result.setdefault("capabilities", {})["tasks"] = {
                "list": {},
                "cancel": {},
                "requests": {"tools": {"call": {}}},
            }
            return result
        if ctx.method == "tools/list" and not _modern(ctx):
            result = await call_next(ctx)
            for tool in result.get("tools", []):
                if tool.get("name") in TASK_TOOLS:
                    tool["execution"] = {"taskSupport": "optional"}
            return result
        if ctx.method == "tools/call" and (ctx.params or {}).get("name") in TASK_TOOLS:
            params = dict(ctx.params or {})
            asked = params.pop("task", None)
            modern = _modern(ctx)
            if (modern and _declared(ctx)) or (not modern and isinstance(asked, dict)):
                return await self._create(replace(ctx, params=params), call_next, asked or {}, modern=modern)
            if asked is not None:
                return await call_next(replace(ctx, params=params))
        return await call_next(ctx)

    async def _create(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext, asked: dict[str, Any], *, modern: bool
    ) -> Any:
        requested = asked.get("ttl")
        ttl = DEFAULT_TTL_MS if not isinstance(requested, int) or requested <= 0 else min(requested, MAX_TTL_MS)
        params = dict(ctx.params or {})
        params["arguments"] = {**(params.get("arguments") or {}), "wait_seconds": 0}
        with binding_task(TaskHandle(ttl_ms=ttl)) as binding:
            result = await call_next(replace(ctx, params=params))
        job = binding.job
        if job is None:
            return result  # no job came of it (refused, invalid, or input still needed): answered as a plain call
        if job.task is None:
            return result  # an idempotent retry of a job started by a plain call: that call's answer
        job_id = job.job_id
        logger.info("job %s runs as a task (%s)", job_id, ctx.protocol_version)
        if modern:
            return {"resultType": "task", **task_view(job, modern=True, poll_ms=self._poll_ms)}
        self._listen(ctx, job_id)
        return {
            "task": task_view(job, modern=False, poll_ms=self._poll_ms),
            "_meta": {
                IMMEDIATE_RESPONSE: f"Job {job_id} started ({job.operation}); the video takes one to three minutes."
            },
        }

    # -- tasks/* ----------------------------------------------------------------------------------------------------

    async def get(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        job = await self._task(ctx, params.task_id)
        return task_view(job, modern=_modern(ctx), poll_ms=self._poll_ms, detailed=True)

    async def result(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        if _modern(ctx):
            raise MCPError(METHOD_NOT_FOUND, "Method not found: 2026-07-28 tasks inline the result in tasks/get.")
        job = await self._task(ctx, params.task_id)
        runner = (await self._state(ctx).backend()).runner
        while not job.finished:
            job = await runner.wait(job.job_id, RESULT_WAIT_SECONDS, owner=job.owner)
        if job.status == "cancelled":
            raise MCPError(INVALID_PARAMS, f"Task {job.job_id} was cancelled: it has no result.")
        result = _tool_result(job)
        result["_meta"] = {**(result.get("_meta") or {}), RELATED_TASK: {"taskId": job.job_id}}
        return result

    async def list(self, ctx: ServerRequestContext[Any, Any], params: ListParams) -> dict[str, Any]:
        if _modern(ctx):
            raise MCPError(METHOD_NOT_FOUND, "Method not found: 2026-07-28 has no tasks/list; list_jobs lists jobs.")
        runner = (await self._state(ctx).backend()).runner
        now = utcnow()
        jobs = [
            job
            for job in await runner.recent(LISTED_TASKS, owner=caller().user)
            if job.task is not None and not job.task.expired(job.created_at, now)
        ]
        return {"tasks": [task_view(job, modern=False, poll_ms=self._poll_ms) for job in jobs]}

    async def cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        job = await self._task(ctx, params.task_id)
        modern = _modern(ctx)
        if job.finished:
            if modern:
                return {}  # cooperative and idempotent in 2026-07-28
            raise MCPError(INVALID_PARAMS, f"Cannot cancel task {job.job_id}: it already ended ({job.status}).")
        runner = (await self._state(ctx).backend()).runner
        try:
            after = (await runner.cancel(job.job_id, job.owner)).job
            if not after.finished:  # fal took the cancel: the job ends as soon as its follower hears so
                after = await runner.wait(job.job_id, CANCEL_SETTLE_SECONDS)
        except HappyHorseError as exc:
            raise MCPError(INTERNAL_ERROR, exc.message) from exc
        if modern:
            return {}
        view = task_view(after, modern=False, poll_ms=self._poll_ms)
        if not after.finished:
            # fal is already generating it: it may still finish, and then it is billed. The task says what the job
            # is, as get_job does, rather than a cancel that did not happen.
            view["statusMessage"] = "Cancel asked; fal was already generating the video and may still finish it."
        return view

    async def update(self, ctx: ServerRequestContext[Any, Any], params: UpdateParams) -> dict[str, Any]:
        if not _modern(ctx):
            raise MCPError(METHOD_NOT_FOUND, "Method not found: tasks/update is 2026-07-28's.")
        await self._task(ctx, params.task_id)
        return {}  # a spend confirmation is asked before the task exists: a task never waits for input

    async def _task(self, ctx: ServerRequestContext[Any, Any], task_id: str) -> Job:
        if _modern(ctx) and not _declared(ctx):
            raise MCPError(
                MISSING_REQUIRED_CLIENT_CAPABILITY,
                f"Missing required client capability: declare the {EXTENSION} extension to use tasks.",
                data={"requiredCapabilities": {"extensions": {EXTENSION: {}}}},
            )
        _check_name_header(ctx, task_id)
        try:
            job = await (await self._state(ctx).backend()).runner.get(task_id, caller().user)
        except HappyHorseError:
            raise _not_found(task_id) from None
        if job.task is None:
            raise _not_found(task_id, "that job was not started as a task (get_job reads it)")
        if job.task.expired(job.created_at, utcnow()):
            raise _not_found(task_id, "the task expired (get_job still reads the job)")
        return job

    @staticmethod
    def _state(ctx: ServerRequestContext[Any, Any]) -> AppState:
        state: AppState = ctx.lifespan_context
        return state

    # -- notifications/tasks/status (2025-11-25) --------------------------------------------------------------------

    def _listen(self, ctx: ServerRequestContext[Any, Any], job_id: str) -> None:
        connection = connection_of(ctx.session)
        listeners = self._listeners.setdefault(job_id, set())
        if connection not in listeners:
            listeners.add(connection)
            connection.exit_stack.callback(listeners.discard, connection)

    def followed(self, job_id: str) -> bool:
        """Whether a connection here waits for news of this task (a job another process may follow)."""
        return bool(self._listeners.get(job_id))

    async def job_changed(self, job: Job) -> None:
        """Tell the 2025-11-25 connections that created this task how it stands now."""
        listeners = self._listeners.get(job.job_id)
        if not listeners or job.task is None:
            return
        view = task_view(job, modern=False, poll_ms=self._poll_ms)
        for connection in list(listeners):
            try:
                await connection.outbound.notify("notifications/tasks/status", view)
            except Exception:  # a connection closing under us; its exit stack drops it
                logger.debug("task status for %s not delivered", job.job_id, exc_info=True)
        if job.finished:
            self._listeners.pop(job.job_id, None)


def serve_tasks(mcp: MCPServer[Any], service: TaskService) -> None:
    """Register the task methods and advertise the 2026-07-28 extension (server/discover)."""
    low = lowlevel_server(mcp)
    low.add_request_handler("tasks/get", TaskIdParams, service.get)
    low.add_request_handler("tasks/result", TaskIdParams, service.result)
    low.add_request_handler("tasks/list", ListParams, service.list)
    low.add_request_handler("tasks/cancel", TaskIdParams, service.cancel)
    low.add_request_handler("tasks/update", UpdateParams, service.update)
    low.extensions[EXTENSION] = {}
