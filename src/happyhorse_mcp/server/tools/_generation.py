"""The MCP side of a generation call; what it decides is jobs/generation.py's.

The SDK fills two parameters of every generation tool before its body runs (`Resolve` dependencies, which ask the
client on both protocol eras: a request mid-call on 2025-11-25, an input-required result on 2026-07-28):
- `quote`: the request bound from the tool's arguments, with the client's roots when it shares this machine's disk
  and names a local path, quoted by `Generation.quote`;
- `consent`: the user's answer when the quote needs one, else approval.
The body (`generate`) then lets `Generation.start` run the job, waits for it up to `wait_seconds`, and renders it.

The SDK binds a resolver's parameters by name to the tool's arguments, so each resolver is given the signature of
exactly the arguments its spec has (`argument_names`); a spec that names an argument its tool lacks fails at
registration.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, ListRoots, Resolve
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from ...domain.catalog import OperationSpec
from ...domain.errors import InvalidMediaError
from ...domain.models import Job, TaskHandle
from ...files.localfiles import names_local_path, user_folder
from ...files.media import roots_from_uris
from ...jobs.generation import GenerationRequest, Places, Quote, argument_names, consented
from ..boundary import tool_errors
from ..identity import caller
from ..options import STDIO
from ..state import app_state
from ..stateless import STATELESS_CANNOT_ASK, stateless_legacy
from ..task_context import bound_task
from ._shared import bearable_wait, job_result, progress_reporter

if TYPE_CHECKING:
    from ..backend import Backend


class SpendConfirmation(BaseModel):
    confirm: bool = Field(description="Make the video and pay for it")


Confirmation = ElicitationResult[SpendConfirmation]
APPROVED = SpendConfirmation(confirm=True)


def client_shares_disk(ctx: Context[Any, Any]) -> bool:
    """Whether the client runs on this machine, so its roots are folders of this disk: stdio, never HTTP. A server
    built for HTTP says so (`Serving`), and a request that came with HTTP headers never counts as local whatever the
    server says."""
    serving = getattr(ctx.mcp_server, "serving", STDIO)
    return not serving.over_http and ctx.headers is None


def places(ctx: Context[Any, Any], listed: Any) -> Places:
    settings = app_state(ctx).settings
    local = client_shares_disk(ctx)
    shared = roots_from_uris(str(root.uri) for root in (getattr(listed, "roots", None) if local else None) or [])
    allowed, output_dir, base = settings.allowed_dirs, settings.output_dir, shared[0] if shared else None
    if not (principal := caller()).is_local:  # a signed-in person: their own folder in each, made on first use
        allowed = tuple(_made(user_folder(folder, principal.user)) for folder in allowed)
        output_dir = _made(user_folder(output_dir, principal.user)) if output_dir else None
        base = allowed[0] if allowed else None  # a relative save_to lands in their own folder
    return Places(
        allowed=(*allowed, *shared),
        base=base,
        remote=not local,
        output_dir=output_dir,
    )


def _made(folder: Path) -> Path:
    """A person's own folder, made with the allowed folder above it when that is missing too (as save_to makes
    missing folders in the other modes)."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        base = folder.parent.parent
        raise InvalidMediaError(
            f"The allowed folder {base} (HAPPYHORSE_ALLOWED_DIRS or HAPPYHORSE_OUTPUT_DIR) has no folder for you and "
            f"this server cannot make one ({exc.strerror or exc}). Nothing was uploaded or submitted. Ask the "
            f"server's operator to create {base} and let the server write in it."
        ) from exc
    return folder


def signed(fn: Callable[..., Any], parameters: dict[str, Any], returns: Any) -> Callable[..., Any]:
    """Give `fn(**arguments)` the signature the SDK reads: the named parameters, keyword-only, with annotations."""
    fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=a) for name, a in parameters.items()],
        return_annotation=returns,
    )
    fn.__annotations__ = {**parameters, "return": returns}
    return fn


# One resolver of each kind per operation: a call resolves each once, whichever parameters name it.
_QUOTE_RESOLVERS: dict[str, Callable[..., Any]] = {}
_CONSENT_RESOLVERS: dict[str, Callable[..., Any]] = {}


def quote_resolver(spec: OperationSpec) -> Callable[..., Any]:
    """The `quote` parameter's resolver for `spec`'s tool."""
    if spec.operation not in _QUOTE_RESOLVERS:
        _QUOTE_RESOLVERS[spec.operation] = _make_quote_resolver(spec)
    return _QUOTE_RESOLVERS[spec.operation]


def consent_resolver(spec: OperationSpec) -> Callable[..., Any]:
    """The `consent` parameter's resolver: the question when the quote needs the user's consent, else approval."""
    if spec.operation not in _CONSENT_RESOLVERS:
        _CONSENT_RESOLVERS[spec.operation] = consent_resolver_of(quote_resolver(spec), Quote)
    return _CONSENT_RESOLVERS[spec.operation]


def _make_quote_resolver(spec: OperationSpec) -> Callable[..., Any]:
    context = Context[Any, Any]

    async def roots(ctx: Context[Any, Any], **arguments: Any) -> ListRoots | None:
        capabilities = ctx.client_capabilities
        asks = names_local_path(spec, arguments) and client_shares_disk(ctx)
        return ListRoots() if asks and capabilities is not None and capabilities.roots is not None else None

    async def quoted(ctx: Context[Any, Any], listed: Any, **arguments: Any) -> Quote:
        request = GenerationRequest.of(spec, arguments, caller())
        generation = (await app_state(ctx).backend()).generation
        return await generation.quote(request, places(ctx, listed))

    local_names = {media.name: Any for media in spec.media} | {"save_to": Any}
    roots_fn = signed(tool_errors(roots), {"ctx": context, **local_names}, ListRoots | None)
    listed = Annotated[Any, Resolve(roots_fn)]
    named = dict.fromkeys(argument_names(spec), Any)
    return signed(tool_errors(quoted), {"ctx": context, "listed": listed, **named}, Quote)


def consent_resolver_of(quoted: Callable[..., Any], kind: type) -> Callable[..., Any]:
    """A consent resolver over the quote `quoted` resolves (a `kind`: any quote with `needs_consent` and
    `question`)."""

    async def consent(ctx: Context[Any, Any], quote: Any) -> Any:
        capabilities = ctx.client_capabilities
        can_ask = capabilities is not None and capabilities.elicitation is not None
        why_not = "this MCP client cannot ask the user to confirm"
        if stateless_legacy(ctx):
            can_ask = False
            why_not = STATELESS_CANNOT_ASK
        asks = quote.needs_consent(client_can_ask=can_ask, why_not=why_not)
        return Elicit(quote.question, SpendConfirmation) if asks else APPROVED

    parameters = {"ctx": Context[Any, Any], "quote": Annotated[kind, Resolve(quoted)]}
    return signed(tool_errors(consent), parameters, Any)


async def generate(ctx: Context[Any, Any], quote: Quote, consent: Confirmation) -> CallToolResult:
    """A generation tool's body: run the quoted job once the user consented, wait for it, render it."""
    rendered = await start_and_wait(
        ctx, consent, lambda backend, task: backend.generation.start(quote, task=task), quote.request.wait_seconds
    )
    if uploaded := uploaded_note(quote):
        rendered.content[0] = TextContent(type="text", text=f"{rendered.content[0].text} {uploaded}")  # type: ignore[union-attr]
    return rendered


async def start_and_wait(
    ctx: Context[Any, Any],
    consent: Confirmation,
    start: Callable[[Backend, TaskHandle | None], Awaitable[Job]],
    wait_seconds: float,
) -> CallToolResult:
    """Once the user consented: `start` the job (bound to the MCP task the call is to become, if any), wait for it up
    to `wait_seconds` (what the client bears), and render it."""
    consented(consent.action, isinstance(consent, AcceptedElicitation) and consent.data.confirm)
    backend = await app_state(ctx).backend()
    task = bound_task()
    job = await start(backend, task.handle if task else None)
    if task is not None:
        task.job = job
    wait = bearable_wait(ctx, wait_seconds)
    job = await backend.runner.wait(job.job_id, wait.seconds, progress_reporter(ctx), owner=job.owner)
    return job_result(job, error_if_failed=True, note=wait.note)


def uploaded_note(quote: Quote) -> str:
    """What of the user's own files went to fal's storage, where they are public URLs (a retry uploads nothing)."""
    if quote.earlier is not None or not quote.plan.local:
        return ""
    named = ", ".join(f"{name} ({local.path.name})" for name, local in quote.plan.local.items())
    return f"Uploaded to fal's storage, where each is a public URL: {named}."
