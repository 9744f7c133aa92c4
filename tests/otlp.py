"""An OTLP/HTTP receiver for traces and metrics, served in a test (or a benchmark) to see what the server exports."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
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


@asynccontextmanager
async def traced_http_server(
    fal_url: str, data_dir: Path, *, webhooks: bool = False, **env: str
) -> AsyncIterator[tuple[Receiver, str]]:
    """The server as a process over HTTP on the fake fal at `fal_url`, exporting over OTLP/HTTP to a receiver served
    here (spans sent every 50 ms), with `env` added, and with `webhooks` fal's posts sent to it (the fake's signing
    keys): yields the receiver and the server's base URL."""
    from .fakefal import serve_app
    from .support import free_port, http_server_process, stdio_server

    receiver, otlp_port, port = Receiver(), free_port(), free_port()
    environment = {
        **os.environ,
        **(stdio_server(fal_url, data_dir).env or {}),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_port}",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        **env,
    }
    if webhooks:
        environment["HAPPYHORSE_WEBHOOK_URL"] = f"http://127.0.0.1:{port}"
        environment["HAPPYHORSE_FAL_JWKS_URL"] = f"{fal_url}/.well-known/jwks.json"
    command = [sys.executable, "-m", "happyhorse_mcp", "--transport", "http", "--port", str(port)]
    async with serve_app(receiver.app, otlp_port):
        with http_server_process(command, environment, data_dir.parent / "server.log"):
            yield receiver, f"http://127.0.0.1:{port}"
