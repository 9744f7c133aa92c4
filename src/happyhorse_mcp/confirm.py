"""Ask the user before spending above HAPPYHORSE_CONFIRM_ABOVE_USD, through MCP elicitation.

The resolvers run before a generation tool's body (the SDK's `Resolve` dependency), on both protocol eras: on
2025-11-25 the question is an `elicitation/create` request mid-call; on 2026-07-28 it rides an InputRequiredResult
and the tool body runs only on the client's retry with the answer. Nothing is submitted before an answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from .budget import BudgetExceededError, check_spend, left_today
from .catalog import MAX_EDIT_SOURCE_SECONDS, Operation
from .errors import MissingKeyError
from .inputs import check_aspect_ratio
from .localfiles import MediaPlan, plan_for_edit, plan_for_image, plan_for_references, plan_for_text
from .pricing import CostEstimate, estimate


class SpendConfirmation(BaseModel):
    confirm: bool = Field(description="Make the video and pay for it")


Confirmation = ElicitationResult[SpendConfirmation]


async def _confirm(
    ctx: Context[Any, Any],
    cost: CostEstimate,
    max_cost_usd: float | None,
    idempotency_key: str | None,
    hint: str = "",
) -> Any:
    state = ctx.request_context.lifespan_context
    settings = state.settings
    if settings.fal_key is None:
        raise ToolError(MissingKeyError().message)
    runner = (await state.backend()).runner
    if idempotency_key is not None and await runner.has_idempotency_key(idempotency_key):
        return SpendConfirmation(confirm=True)  # a retry: the earlier job is returned, nothing new is paid for
    spent_today = await runner.spent_today()
    try:
        # Refuse what the limits refuse before asking anyone to approve it; the runner checks again at submit.
        check_spend(cost.usd, limits=settings.limits, spent_today=spent_today, max_cost_usd=max_cost_usd)
    except BudgetExceededError as exc:
        raise ToolError(exc.message + hint) from exc
    threshold = settings.limits.confirm_above_usd
    if cost.usd <= threshold:
        return SpendConfirmation(confirm=True)
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.elicitation is None:
        if max_cost_usd is not None and max_cost_usd >= cost.usd:
            return SpendConfirmation(confirm=True)
        raise ToolError(
            f"This job is estimated at USD {cost.usd:.2f}, above USD {threshold:.2f} "
            "(HAPPYHORSE_CONFIRM_ABOVE_USD), and this MCP client cannot ask the user to confirm. Nothing was "
            f"submitted. Once the user has agreed to the price, call again with max_cost_usd={cost.usd:.2f} "
            "(or more)."
        )
    return Elicit(
        f"Make this {cost.operation} video for USD {cost.usd:.2f} ({cost.seconds_billed} s billed at USD "
        f"{cost.rate_usd_per_second:.2f}/s, {cost.resolution}, HappyHorse {cost.version})? USD "
        f"{left_today(settings.limits, spent_today):.2f} of today's budget is left.",
        SpendConfirmation,
    )


def estimate_or_refuse(operation: Operation, **kwargs: Any) -> CostEstimate:
    """`pricing.estimate`, its ValueError turned into a tool error for the model."""
    try:
        return estimate(operation, **kwargs)
    except ValueError as exc:
        raise ToolError(f"Cannot estimate the cost: {exc}.") from exc


def _generation_cost(duration: int, resolution: Any, version: Any) -> CostEstimate:
    # Text, image and reference to video share one price per second.
    return estimate_or_refuse(Operation.TEXT_TO_VIDEO, duration=duration, resolution=resolution, version=version)


async def confirm_text(
    ctx: Context[Any, Any],
    duration: int,
    resolution: Any,
    version: Any,
    aspect_ratio: str,
    max_cost_usd: float | None,
    idempotency_key: str | None,
    plan: Annotated[MediaPlan, Resolve(plan_for_text)],
) -> Any:
    check_aspect_ratio(version, aspect_ratio)
    return await _confirm(ctx, _generation_cost(duration, resolution, version), max_cost_usd, idempotency_key)


async def confirm_image(
    ctx: Context[Any, Any],
    duration: int,
    resolution: Any,
    version: Any,
    max_cost_usd: float | None,
    idempotency_key: str | None,
    plan: Annotated[MediaPlan, Resolve(plan_for_image)],
) -> Any:
    return await _confirm(ctx, _generation_cost(duration, resolution, version), max_cost_usd, idempotency_key)


async def confirm_references(
    ctx: Context[Any, Any],
    duration: int,
    resolution: Any,
    version: Any,
    aspect_ratio: str,
    max_cost_usd: float | None,
    idempotency_key: str | None,
    plan: Annotated[MediaPlan, Resolve(plan_for_references)],
) -> Any:
    check_aspect_ratio(version, aspect_ratio)
    return await _confirm(ctx, _generation_cost(duration, resolution, version), max_cost_usd, idempotency_key)


async def confirm_edit(
    ctx: Context[Any, Any],
    resolution: Any,
    source_duration: float | None,
    max_cost_usd: float | None,
    idempotency_key: str | None,
    plan: Annotated[MediaPlan, Resolve(plan_for_edit)],
) -> Any:
    cost = edit_cost(resolution, source_duration, plan)
    known = source_duration or plan.source_seconds
    hint = "" if known else " The source's length was not given, so 60 s was assumed: pass source_duration."
    return await _confirm(ctx, cost, max_cost_usd, idempotency_key, hint)


def edit_cost(resolution: Any, source_duration: float | None, plan: MediaPlan) -> CostEstimate:
    """An edit is priced on its source's length: as told, read from a local file, or else the longest (60 s)."""
    seconds = source_duration or plan.source_seconds or MAX_EDIT_SOURCE_SECONDS
    return estimate(Operation.VIDEO_EDIT, duration=0, resolution=resolution, version="1.0", source_duration=seconds)


def require_confirmed(outcome: Confirmation) -> None:
    """Stop the call unless the user accepted; nothing has been submitted yet."""
    if isinstance(outcome, AcceptedElicitation) and outcome.data.confirm:
        return
    raise ToolError(f"The user did not confirm the price ({outcome.action}). Nothing was submitted or billed.")
