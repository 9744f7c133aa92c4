"""The server: its lifespan (the job machinery, started in the background), the tool selection, the compact
schemas, and the protocol methods MCPServer leaves unregistered."""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.resources import ResourceTemplate
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    Completion,
    CompletionArgument,
    EmptyResult,
    GetPromptResult,
    InputRequiredResult,
    ResourceTemplateReference,
    SetLevelRequestParams,
    SubscribeRequestParams,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from mcp.types import Resource as MCPResource
from mcp.types import Tool as MCPTool
from pydantic import ValidationError

from .. import __version__
from ..config.settings import Settings
from ..domain.errors import HappyHorseError
from ..domain.film import SPENDING_TOOLS
from ..domain.models import Job
from ..domain.uris import SPEND_URI, job_of, job_uri
from ..observability.metrics import timed_request
from .argument_errors import explain
from .identity import caller, identify
from .instructions import INSTRUCTIONS, SANDBOX_INSTRUCTIONS
from .notify import ResourceNotifier
from .options import STDIO, BackendOptions, Serving
from .player import player_extension
from .prompts import register_prompts
from .resources import RECENT_JOBS_LISTED, define_job_templates, prompt_excerpt, register_spend
from .schema import compact_once
from .sdk_hooks import add_resource_template, lowlevel_server
from .shelf import Shelf
from .state import AppState
from .stateless import stateless_truth
from .tasks import TaskService, serve_tasks
from .tools import tool_definitions
from .tools.keys import TOOL as KEYS_TOOL
from .tools.review import define_sheet
from .versions import version_gate

if TYPE_CHECKING:
    import httpx

    from ..fal.queue import RetryPolicy
    from ..jobs.follow import FollowPolicy
    from .backend import Backend

logger = logging.getLogger(__name__)

# How the SDK says an elicitation answer did not fit the schema asked for (tests/e2e/test_confirmation.py checks it).
ELICITATION_MISMATCH = "elicitation whose content does not match the requested schema"


class HappyHorseServer(MCPServer[AppState]):
    """MCPServer with compact tool schemas, jobs in resources/list, and a record of each tool's annotations."""

    def __init__(self, *args: Any, serving: Serving = STDIO, **kwargs: Any) -> None:
        self.tool_hints = {tool.name: tool.annotations for tool in kwargs.get("tools") or []}
        self.state: AppState | None = None
        self.notifier: ResourceNotifier | None = None
        self._listed: list[MCPTool] | None = None
        self.serving = serving  # the transport it is built for, fixed for its life
        super().__init__(*args, **kwargs)

    def add_tool(  # type: ignore[override]  # the same parameters, passed on as they are
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        annotations: ToolAnnotations | None = None,
        **kwargs: Any,
    ) -> None:
        super().add_tool(fn, name=name, annotations=annotations, **kwargs)
        self.tool_hints[name or fn.__name__] = annotations
        self._listed = None

    def remove_tool(self, name: str) -> None:
        super().remove_tool(name)
        del self.tool_hints[name]
        self._listed = None

    async def run_on(self, read_stream: Any, write_stream: Any) -> None:
        """Serve one client on these message streams (transport/stdio.py) until they close."""
        lowlevel = lowlevel_server(self)
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())

    async def list_tools(self) -> list[MCPTool]:
        # Every conversation pays for tools/list in context: send what a model uses (see schema.py). Compacted once
        # per set of tools, not on every call.
        if self._listed is None:
            self._listed = await self._compacted_tools()
        if caller().may_generate:
            return list(self._listed)
        # A caller who may not spend is not offered what would only refuse them (the 2026-07-28 list results are
        # cached per authorization context: cacheScope "private", the SDK's default).
        return [tool for tool in self._listed if tool.name not in SPENDING_TOOLS and tool.name != KEYS_TOOL]

    async def _compacted_tools(self) -> list[MCPTool]:
        return [
            tool.model_copy(
                update={
                    "input_schema": compact_once(tool.input_schema),
                    "output_schema": None
                    if tool.output_schema is None
                    else compact_once(tool.output_schema, keep_descriptions=False, input_schema=False),
                }
            )
            for tool in await super().list_tools()
        ]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if ELICITATION_MISMATCH in str(exc) and not isinstance(exc, UnexpectedToolError):
                # The SDK names its resolver (an internal name); the user needs to know what went wrong.
                raise ToolError(
                    f"Error executing tool {name}: the answer to the price question was not a yes or a no (confirm "
                    "must be true or false). Nothing was submitted or billed; call again to be asked again."
                ) from exc
            if isinstance(exc.__cause__, ValidationError) and not isinstance(exc, UnexpectedToolError):
                hints = self.tool_hints.get(name)
                submits = not (hints is not None and hints.read_only_hint)
                raise ToolError(
                    f"Error executing tool {name}: {explain(exc.__cause__, submits=submits)}"
                ) from exc.__cause__
            raise

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[AppState, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        # The SDK reports missing prompt arguments as an internal error; they are the caller's to correct.
        for prompt in await self.list_prompts():
            if prompt.name == name:
                required = [a.name for a in prompt.arguments or () if a.required]
                if missing := [a for a in required if a not in (arguments or {})]:
                    raise MCPError(
                        INVALID_PARAMS,
                        f"Prompt {name} needs the argument(s) {', '.join(missing)} "
                        f"(it takes: {', '.join(a.name for a in prompt.arguments or ())}).",
                    )
        return await super().get_prompt(name, arguments, context)

    async def list_resources(self) -> list[MCPResource]:
        listed = await super().list_resources()
        backend = self.state.running if self.state is not None else None
        if backend is not None:
            for job in await backend.runner.recent(RECENT_JOBS_LISTED, owner=caller().user):
                listed.append(
                    MCPResource(
                        uri=job_uri(job.job_id),
                        name=f"{job.job_id} ({job.operation}, {job.status})",
                        description=prompt_excerpt(job),
                        mime_type="application/json",
                    )
                )
        return listed


def serve_lowlevel_methods(mcp: HappyHorseServer, notifier: ResourceNotifier) -> None:
    """Methods MCPServer leaves unregistered, added on its low-level server (the SDK has no public way):
    2025-11-25's `resources/subscribe` pair, and `logging/setLevel`. A client's level governs only the log
    notifications sent to that client, and this server sends none (the protocol deprecates them), so it is accepted
    and changes nothing: the server's own log level is the operator's (--log-level), never a caller's."""

    async def set_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        return EmptyResult()

    lowlevel = lowlevel_server(mcp)
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, notifier.subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, notifier.unsubscribe)


def create_server(
    settings: Settings,
    *,
    serving: Serving = STDIO,
    http_client_factory: Callable[[], httpx.AsyncClient] | None = None,
    retry: RetryPolicy | None = None,
    follow: FollowPolicy | None = None,
) -> HappyHorseServer:
    options = BackendOptions(http_client_factory=http_client_factory, retry=retry, follow=follow)

    async def status_changed(job: Job) -> None:
        await notifier.updated(job_uri(job.job_id))
        await tasks.job_changed(job)

    async def changed_elsewhere(job_id: str) -> None:
        await notifier.updated(job_uri(job_id))
        backend = mcp.state.running if mcp.state is not None else None
        if backend is not None and tasks.followed(job_id):
            await tasks.job_changed(await backend.runner.get(job_id))

    async def start_backend(state: AppState, tg: anyio.abc.TaskGroup, stack: AsyncExitStack) -> None:
        """Open the job store and the fal client, follow unfinished jobs again, then let the tools in."""
        try:
            # The HTTP stack imports in a worker thread while the event loop answers the client's first requests.
            module = await anyio.to_thread.run_sync(importlib.import_module, f"{__package__}.backend")
            backend: Backend = await module.open_backend(
                settings,
                tg,
                stack,
                on_status_change=status_changed,
                on_change_elsewhere=changed_elsewhere,
                options=options,
                over_http=serving.over_http,
            )
            resumed = await backend.runner.resume()
        except (OSError, HappyHorseError) as exc:  # an unwritable data dir, a damaged store, one from a newer version
            message = exc.message if isinstance(exc, HappyHorseError) else str(exc)
            logger.error("cannot start the job machinery: %s", message)
            state.failed(message)
            return
        if resumed:
            logger.info("following %d unfinished job(s) from a previous run", resumed)
        state.started(backend)

    @asynccontextmanager
    async def lifespan(server: MCPServer[AppState]) -> AsyncIterator[AppState]:
        state = AppState(settings=settings)
        mcp.state = state
        async with AsyncExitStack() as stack, anyio.create_task_group() as tg:
            tg.start_soon(start_backend, state, tg, stack)
            try:
                yield state
            finally:
                mcp.state = None
                tg.cancel_scope.cancel()

    async def exists(uri: str) -> bool:
        """Whether `uri` names a resource this server has: what a client may subscribe to."""
        if uri == SPEND_URI:
            return True
        job_id = job_of(uri)
        if job_id is None or mcp.state is None:
            return False
        try:
            await (await mcp.state.backend()).runner.get(job_id, caller().user)
        except HappyHorseError:
            return False
        return True

    def served_stateless() -> bool:
        return serving.stateless

    async def listen_filter(ctx: Any, call_next: Any) -> Any:
        return await notifier.only_existing(ctx, call_next)

    notifier = ResourceNotifier(exists)
    tasks = TaskService(poll_ms=settings.task_poll_ms)
    mcp = HappyHorseServer(
        "happyhorse-mcp",
        serving=serving,
        title="HappyHorse video (sandbox: test cards, nothing billed)" if settings.sandbox else "HappyHorse video",
        version=__version__,
        instructions=f"{SANDBOX_INSTRUCTIONS}\n{INSTRUCTIONS}" if settings.sandbox else INSTRUCTIONS,
        lifespan=lifespan,
        subscriptions=notifier.bus,
        extensions=[player_extension(settings)],
        middleware=[
            timed_request,
            version_gate,
            identify,
            stateless_truth(served_stateless),
            listen_filter,
            tasks.middleware,
        ],  # outermost first
        tools=tool_definitions(),
    )
    serve_tasks(mcp, tasks)
    mcp.notifier = notifier
    serve_lowlevel_methods(mcp, notifier)

    @mcp.completion()  # type: ignore[no-untyped-call, untyped-decorator]
    async def complete(ref: Any, argument: CompletionArgument, context: Any) -> Completion | None:
        """Offer the ids of recent jobs for `happyhorse://jobs/{job_id}`."""
        backend = mcp.state.running if mcp.state is not None else None
        if isinstance(ref, ResourceTemplateReference) and argument.name == "job_id" and backend is not None:
            ids = [job.job_id for job in await backend.runner.recent(RECENT_JOBS_LISTED, owner=caller().user)]
            matches = [job_id for job_id in ids if job_id.startswith(argument.value)]
            return Completion(values=matches[:100], total=len(matches), has_more=len(matches) > 100)
        return None

    if not settings.user_keys_secrets:  # users' own keys are not taken here: the tool would only refuse
        mcp.remove_tool(KEYS_TOOL)
    for template in resource_templates():
        add_resource_template(mcp, template)
    register_spend(mcp, lambda: mcp.state)
    register_prompts(mcp)
    return mcp


@functools.cache
def resource_templates() -> tuple[ResourceTemplate, ...]:
    """The resource templates, built once per process as the tools and prompts are (the SDK makes an argument model
    and a validator for each, about 2 ms a template): they take what they need from the request's context."""
    shelf = Shelf(ResourceTemplate.from_function)
    define_sheet(shelf)
    define_job_templates(shelf)
    return tuple(shelf.made)


def select_tools(mcp: HappyHorseServer, *, read_only: bool = False, names: list[str] | None = None) -> list[str]:
    """Keep only the tools asked for: those annotated read-only, and/or those named. Returns what is offered."""
    known = dict(mcp.tool_hints)
    if names is not None:
        wanted = {name.strip() for name in names if name.strip()}
        if unknown := sorted(wanted - set(known)):
            raise ValueError(f"unknown tool(s) in --tools: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    else:
        wanted = set(known)
    if read_only:
        wanted = {n for n in wanted if (hints := known[n]) is not None and hints.read_only_hint}
    for name in set(known) - wanted:
        mcp.remove_tool(name)
    return sorted(wanted)
