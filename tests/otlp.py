"""An OTLP/HTTP receiver for traces and metrics, served in a test (or a benchmark) to see what the server exports."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class Receiver:
    """An OTLP/HTTP trace receiver: every span it is sent, by name, with its trace id and attributes."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.metrics: dict[str, list[dict[str, Any]]] = {}  # name: each data point's attributes
        self.arrived = anyio.Event()
        self.app = Starlette(
            routes=[
                Route("/v1/traces", self._traces, methods=["POST"]),
                Route("/v1/metrics", self._metrics, methods=["POST"]),
            ]
        )

    async def _metrics(self, request: Request) -> Response:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

        sent = ExportMetricsServiceRequest.FromString(await request.body())
        for resource in sent.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    points = getattr(metric, kind).data_points if kind else []
                    self.metrics.setdefault(metric.name, []).extend(
                        {a.key: a.value.string_value for a in point.attributes} for point in points
                    )
        self.arrived.set()
        self.arrived = anyio.Event()
        return Response(status_code=200)

    async def until_measured(self, names: set[str]) -> dict[str, list[dict[str, Any]]]:
        with anyio.fail_after(30):
            while not names <= set(self.metrics):
                await self.arrived.wait()
        return self.metrics

    async def _traces(self, request: Request) -> Response:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        sent = ExportTraceServiceRequest.FromString(await request.body())
        for resource in sent.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    attributes = {
                        a.key: a.value.string_value or a.value.int_value or a.value.double_value
                        for a in span.attributes
                    }
                    self.spans.append(
                        {
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "start": span.start_time_unix_nano,
                            "end": span.end_time_unix_nano,
                            "attributes": attributes,
                        }
                    )
        self.arrived.set()
        self.arrived = anyio.Event()
        return Response(status_code=200)

    async def until(self, trace_id: str, names: set[str]) -> list[dict[str, Any]]:
        with anyio.fail_after(30):
            while not names <= {s["name"] for s in self.spans if s["trace_id"] == trace_id}:
                await self.arrived.wait()
        return [s for s in self.spans if s["trace_id"] == trace_id]
