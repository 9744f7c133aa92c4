"""estimate_cost: the price of a job and whether the limits let it run, with no key, no network, no charge."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from ...domain.budget import Spend
from ...domain.catalog import (
    DEFAULT_VERSION,
    MAX_EDIT_SOURCE_SECONDS,
    MIN_EDIT_SOURCE_SECONDS,
    Operation,
    parse_operation,
)
from ...domain.pricing import CostBreakdown, estimate
from ..boundary import tool_errors
from ..identity import caller
from ..state import app_state
from ._shared import READ_ONLY_LOCAL, Duration, ResolutionArg, VersionArg
from ._shelf import ToolShelf


class BudgetCheck(BaseModel):
    allowed: bool = Field(description="Whether the limits in force let this job run now.")
    left_today_usd: float
    daily_budget_usd: float
    max_usd_per_job: float
    reason: str | None = Field(default=None, description="Why the job would be refused, when it would.")


class CostReport(BaseModel):
    usd: float = Field(description="Price in US dollars, exact to the cent.")
    breakdown: CostBreakdown
    budget: BudgetCheck
    summary: str


def register(shelf: ToolShelf) -> None:
    @shelf.tool(
        name="estimate_cost",
        title="Estimate the cost of a video",
        annotations=READ_ONLY_LOCAL,
        description="Price a job before making it, and check it against the spend limits (no key, no charge).",
    )
    @tool_errors
    async def estimate_cost(
        ctx: Context[Any, Any],
        operation: Annotated[str, Field(description=" | ".join([*(op.value for op in Operation)]))],
        duration: Duration = 5,
        resolution: ResolutionArg = "1080p",
        version: VersionArg = DEFAULT_VERSION,
        source_duration: Annotated[
            float | None,
            Field(ge=MIN_EDIT_SOURCE_SECONDS, le=MAX_EDIT_SOURCE_SECONDS, description="video-edit only."),
        ] = None,
    ) -> Annotated[CallToolResult, CostReport]:
        spec = parse_operation(operation)
        cost = estimate(
            spec, duration=duration, resolution=resolution, version=version, source_duration=source_duration
        )
        guard = (await app_state(ctx).backend()).guard
        refusal, committed = await guard.refusal(Spend(cost.usd, caller().user))
        left = guard.limits.left_today(committed)
        budget = BudgetCheck(
            allowed=refusal is None,
            left_today_usd=left,
            daily_budget_usd=guard.limits.daily_budget_usd,
            max_usd_per_job=guard.limits.max_usd_per_job,
            reason=refusal.reason if refusal else None,
        )
        summary = (
            f"USD {cost.usd:.2f} for {spec.operation} at {resolution} on version {version}: "
            f"{cost.how} x USD {cost.rate_usd_per_second:.2f}/s (prices as of {cost.prices_as_of}). "
            f"USD {left:.2f} of today's budget is left."
        )
        report = CostReport(usd=cost.usd, breakdown=cost.breakdown, budget=budget, summary=summary)
        # The text is for people and models reading the conversation; the figures are in the structured output.
        text = summary if budget.allowed else f"{summary} Refused now: {budget.reason}"
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=report.model_dump(mode="json")
        )
