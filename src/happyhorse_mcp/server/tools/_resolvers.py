"""What runs before a generation tool's body, made from its operation spec: the SDK's `Resolve` dependencies.

For one call, in order: the client's roots (only when a local path is named), the local files and `save_to` checked
against the allowed folders and fal's limits, the price, the earlier job of a known `idempotency_key`, the spend
limits, and the user's confirmation above HAPPYHORSE_CONFIRM_ABOVE_USD through elicitation (on 2025-11-25 an
`elicitation/create` request mid-call; on 2026-07-28 an input-required result answered on the client's retry). The
tool body sees one `Ticket`, and runs only once every check passed and the user agreed: nothing is uploaded or
submitted before.

The SDK binds a resolver's parameters by name to the tool's arguments, so each resolver is given the signature of
exactly the arguments its spec has; a spec that needs an argument its tool lacks fails at registration.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, ListRoots, Resolve
from pydantic import BaseModel, Field

from ...domain.catalog import OperationSpec, check_aspect_ratio
from ...domain.errors import InvalidArgumentError, MissingKeyError, NotConfirmedError
from ...domain.models import Job
from ...domain.pricing import CostEstimate, edit_estimate, estimate
from ...files.localfiles import MediaPlan, names_local_path, plan_media
from ...files.media import roots_from_uris
from ..boundary import tool_errors
from ..state import app_state


class SpendConfirmation(BaseModel):
    confirm: bool = Field(description="Make the video and pay for it")


Confirmation = ElicitationResult[SpendConfirmation]
APPROVED = SpendConfirmation(confirm=True)


@dataclass(frozen=True)
class Quote:
    cost: CostEstimate
    assumption: str = ""  # said with a budget refusal when the price rests on a guess


@dataclass(frozen=True)
class Ticket:
    """A call cleared to run: its checked files, its price, and the earlier job when its idempotency key is known."""

    plan: MediaPlan
    cost: CostEstimate
    earlier: Job | None


def _resolver(fn: Callable[..., Any], parameters: dict[str, Any], returns: Any) -> Callable[..., Any]:
    """Give `fn(**arguments)` the signature the SDK reads: the named parameters, keyword-only, with annotations."""
    fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=a) for name, a in parameters.items()],
        return_annotation=returns,
    )
    fn.__annotations__ = {**parameters, "return": returns}
    return fn


def client_shares_disk(ctx: Context[Any, Any]) -> bool:
    """Whether the client runs on this machine, so its roots are folders of this disk: stdio, never HTTP. A server
    served over HTTP says so (`client_shares_disk = False`), and a request that came with HTTP headers never
    counts as local whatever the server says."""
    return bool(getattr(ctx.mcp_server, "client_shares_disk", True)) and ctx.headers is None


def source_seconds(given: float | None, plan: MediaPlan) -> float | None:
    """The length that prices an edit: a local source's own, which a `source_duration` may not contradict."""
    local = plan.source_seconds
    if local is None:
        return given
    if given is not None and math.ceil(given) != math.ceil(local):
        raise InvalidArgumentError(
            f"Invalid argument source_duration: {given:g} s was given, but the local video lasts {local:.1f} s, and "
            "a local file's own length prices the job. Leave source_duration out for a local file. Nothing was "
            "submitted."
        )
    return local


def ticket_resolver(spec: OperationSpec) -> Callable[..., Any]:
    """The resolver a generation tool declares: `ticket: Annotated[Ticket, Resolve(ticket_resolver(SPEC))]`."""
    media_names = {media.name: Any for media in spec.media}
    versioned = len(spec.versions) > 1

    async def roots(ctx: Context[Any, Any], **arguments: Any) -> ListRoots | None:
        capabilities = ctx.client_capabilities
        asks = names_local_path(spec, arguments) and client_shares_disk(ctx)
        if asks and capabilities is not None and capabilities.roots is not None:
            return ListRoots()
        return None

    async def plan(ctx: Context[Any, Any], listed: Any, **arguments: Any) -> MediaPlan:
        local = client_shares_disk(ctx)
        listed_roots = getattr(listed, "roots", None) if local else None
        shared = roots_from_uris(str(root.uri) for root in listed_roots or [])
        settings = app_state(ctx).settings
        allowed = [*settings.allowed_dirs, *shared]
        base = shared[0] if shared else None
        return await anyio.to_thread.run_sync(
            functools.partial(
                plan_media, spec, arguments, allowed, base, remote=not local, output_dir=settings.output_dir
            )
        )

    async def quote(plan: MediaPlan, **arguments: Any) -> Quote:
        version = arguments.get("version", spec.default_version)
        if spec.has_aspect_ratio:
            check_aspect_ratio(version, arguments["aspect_ratio"])
        if spec.billing == "source_plus_output":
            # A local source's length is read from the file; a URL's is what the caller says, else the longest.
            seconds = source_seconds(arguments["source_duration"], plan)
            assumption = (
                "" if seconds else " The source's length was not given, so 60 s was assumed: pass source_duration."
            )
            return Quote(edit_estimate(spec, arguments["resolution"], seconds), assumption)
        return Quote(
            estimate(spec, duration=arguments["duration"], resolution=arguments["resolution"], version=version)
        )

    async def earlier(ctx: Context[Any, Any], idempotency_key: str | None) -> Job | None:
        state = app_state(ctx)
        if not state.settings.has_fal_credentials:
            raise MissingKeyError()
        if idempotency_key is None:
            return None
        return await (await state.backend()).runner.by_idempotency_key(idempotency_key)

    async def confirm(
        ctx: Context[Any, Any], max_cost_usd: float | None, prompt: str | None, quote: Quote, earlier: Job | None
    ) -> Any:
        if earlier is not None:
            return APPROVED  # a retry: the earlier job is returned, nothing new is paid for
        state = app_state(ctx)
        cost = quote.cost
        guard = (await state.backend()).guard
        # Refuse what the limits refuse before asking anyone to approve it; admission checks again, atomically.
        spent_today = await guard.check(cost.usd, max_cost_usd=max_cost_usd, hint=quote.assumption)
        threshold = guard.limits.confirm_above_usd
        if cost.usd <= threshold:
            return APPROVED
        capabilities = ctx.client_capabilities
        if capabilities is None or capabilities.elicitation is None:
            if max_cost_usd is not None and max_cost_usd >= cost.usd:
                return APPROVED
            raise NotConfirmedError(
                f"This job is estimated at USD {cost.usd:.2f}, above USD {threshold:.2f} "
                "(HAPPYHORSE_CONFIRM_ABOVE_USD), and this MCP client cannot ask the user to confirm. Nothing was "
                f"submitted. Once the user has agreed to the price, call again with max_cost_usd={cost.usd:.2f} "
                "(or more)."
            )
        shown = f' of "{prompt if len(prompt) <= 120 else prompt[:117] + "..."}"' if prompt else ""
        return Elicit(
            f"Make this {cost.operation} video{shown} for USD {cost.usd:.2f} ({cost.seconds_billed} s billed at USD "
            f"{cost.rate_usd_per_second:.2f}/s, {cost.resolution}, HappyHorse {cost.version})? USD "
            f"{guard.limits.left_today(spent_today):.2f} of today's budget is left.",
            SpendConfirmation,
        )

    async def ticket(plan: MediaPlan, quote: Quote, earlier: Job | None, confirmation: Confirmation) -> Ticket:
        if not (isinstance(confirmation, AcceptedElicitation) and confirmation.data.confirm):
            how = {"accept": "answered no", "decline": "declined", "cancel": "dismissed the question"}.get(
                confirmation.action, confirmation.action
            )
            raise NotConfirmedError(
                f"The user did not confirm the price (they {how}). Nothing was submitted or billed."
            )
        return Ticket(plan=plan, cost=quote.cost, earlier=earlier)

    context = Context[Any, Any]
    roots_fn = _resolver(tool_errors(roots), {"ctx": context, **media_names, "save_to": Any}, ListRoots | None)
    plan_fn = _resolver(
        tool_errors(plan),
        {
            "ctx": context,
            "listed": Annotated[Any, Resolve(roots_fn)],
            **media_names,
            **({"version": Any} if versioned else {}),
            "save_to": Any,
        },
        MediaPlan,
    )
    priced_by = (
        {"source_duration": Any}
        if spec.billing == "source_plus_output"
        else {"duration": Any, **({"version": Any} if versioned else {})}
    )
    quote_fn = _resolver(
        tool_errors(quote),
        {
            "plan": Annotated[MediaPlan, Resolve(plan_fn)],
            "resolution": Any,
            **priced_by,
            **({"aspect_ratio": Any} if spec.has_aspect_ratio else {}),
        },
        Quote,
    )
    earlier_fn = _resolver(tool_errors(earlier), {"ctx": context, "idempotency_key": Any}, Job | None)
    confirm_fn = _resolver(
        tool_errors(confirm),
        {
            "ctx": context,
            "max_cost_usd": Any,
            "prompt": Any,
            "quote": Annotated[Quote, Resolve(quote_fn)],
            "earlier": Annotated[Job | None, Resolve(earlier_fn)],
        },
        Any,
    )
    return _resolver(
        tool_errors(ticket),
        {
            "plan": Annotated[MediaPlan, Resolve(plan_fn)],
            "quote": Annotated[Quote, Resolve(quote_fn)],
            "earlier": Annotated[Job | None, Resolve(earlier_fn)],
            "confirmation": Annotated[Confirmation, Resolve(confirm_fn)],
        },
        Ticket,
    )
