"""Traces of the paid path with OpenTelemetry (and, with them, the metrics of metrics.py): spans for the submit to
fal, the wait there, the result, the download, a film's assembly and a review, beneath the SDK's span for the MCP
request (which takes the caller's `_meta.traceparent`). A job keeps the trace context it was started in, so work on
it after a restart or on another replica joins the same trace.

Exported only with the `otel` extra installed and the standard variables set (OTEL_EXPORTER_OTLP_ENDPOINT or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, and OTEL_TRACES_EXPORTER not `none`): then over OTLP/HTTP, as service
OTEL_SERVICE_NAME (default happyhorse-mcp). Otherwise the API's no-op tracer runs and nothing is exported. No span
records a prompt, an argument or a key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import Span

logger = logging.getLogger(__name__)

_tracer = trace.get_tracer("happyhorse-mcp")
SERVICE_NAME = "happyhorse-mcp"


def configure_from_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Export traces when the operator asked for them (the OTEL_* variables); whether they are exported."""
    env = os.environ if environ is None else environ
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint or env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "").lower()
    if protocol and protocol != "http/protobuf":
        logger.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s is not exported here: only http/protobuf is", protocol)
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        logger.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set, but tracing is not installed: install happyhorse-mcp[otel] to export "
            "traces; none are exported"
        )
        return False
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or SERVICE_NAME})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    if env.get("OTEL_METRICS_EXPORTER", "otlp").strip().lower() != "none":
        from opentelemetry import metrics
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        reader = PeriodicExportingMetricReader(OTLPMetricExporter())  # its interval: OTEL_METRIC_EXPORT_INTERVAL
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
    logger.info("exporting traces (and metrics) over OTLP/HTTP to %s", _without_credentials(endpoint))
    return True


@contextmanager
def span(name: str, job_id: str, *, resumed_from: str | None = None, **attributes: Any) -> Iterator[Span]:
    """A span of the paid path for job `job_id`, in the current trace, or, for work resumed without one (a restart,
    another replica), in the trace the job was started in (`resumed_from`: its traceparent)."""
    context = None
    if resumed_from is not None and not trace.get_current_span().get_span_context().is_valid:
        context = context_of(resumed_from)
    given = {f"happyhorse.{key}": value for key, value in attributes.items() if value is not None}
    with _tracer.start_as_current_span(
        name, context=context, attributes={"happyhorse.job_id": job_id, **given}
    ) as made:
        yield made


def current_traceparent() -> str | None:
    """The W3C traceparent of the span being run (kept with a job), or None outside a recorded trace."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")


def context_of(traceparent: str) -> Context | None:
    extracted = extract({"traceparent": traceparent})
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def _without_credentials(url: str) -> str:
    """The collector's address as a log may show it: no user:password, query or fragment (where tokens ride)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"
