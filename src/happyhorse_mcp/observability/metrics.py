"""Metrics of the paid path with OpenTelemetry, exported with traces (tracing.py) when the operator asks for them
(OTEL_METRICS_EXPORTER not `none`): how long each MCP request takes (the SDK emits no metric of its own), the jobs
followed in flight, the USD estimated as jobs are admitted and billed as fal's bills are read, and how long fal
takes to start and to finish a job, per endpoint. Without the extra or the variables these are the API's no-ops."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

_meter = metrics.get_meter("happyhorse-mcp")
_in_flight: weakref.WeakSet[Any] = weakref.WeakSet()  # objects with `in_flight() -> int` (each process's runners)


def _observe_in_flight(options: CallbackOptions) -> Iterable[Observation]:
    yield Observation(sum(source.in_flight() for source in list(_in_flight)))


OPERATION_DURATION = _meter.create_histogram(
    "mcp.server.operation.duration", unit="s", description="How long each MCP request took to answer."
)
ESTIMATED_USD = _meter.create_counter(
    "happyhorse.cost.estimated", unit="USD", description="What jobs admitted here were estimated to cost."
)
BILLED_USD = _meter.create_counter(
    "happyhorse.cost.billed", unit="USD", description="What fal billed for jobs, read from its billing events."
)
TIME_TO_START = _meter.create_histogram(
    "happyhorse.fal.time_to_start", unit="s", description="From a job's admission to fal running it."
)
TIME_TO_FINISH = _meter.create_histogram(
    "happyhorse.fal.time_to_finish", unit="s", description="From a job's admission to its end."
)
_meter.create_observable_gauge(
    "happyhorse.jobs.in_flight", callbacks=[_observe_in_flight], unit="{job}", description="Jobs followed here."
)


def count_in_flight(source: Any) -> None:
    """Count `source.in_flight()` (a runner's jobs followed) in the in-flight gauge for as long as it lives."""
    _in_flight.add(source)


async def timed_request(ctx: Any, call_next: Callable[[Any], Any]) -> Any:
    """Middleware: each request's duration, by method (and tool), with the error type when it failed."""
    attributes: dict[str, Any] = {"mcp.method.name": getattr(ctx, "method", "?")}
    params = getattr(ctx, "params", None)
    if (
        attributes["mcp.method.name"] == "tools/call"
        and isinstance(params, dict)
        and isinstance(params.get("name"), str)
    ):
        attributes["gen_ai.tool.name"] = params["name"]
    started = time.perf_counter()
    try:
        return await call_next(ctx)
    except Exception as exc:
        attributes["error.type"] = type(exc).__qualname__
        raise
    finally:
        OPERATION_DURATION.record(time.perf_counter() - started, attributes)
