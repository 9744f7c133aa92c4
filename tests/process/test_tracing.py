"""Traces of the paid path: with the otel extra installed and OTEL_EXPORTER_OTLP_ENDPOINT set, the server (a real
process) exports over OTLP/HTTP to a receiver in the test; a generate_video call carrying `_meta.traceparent` yields
one trace with that trace id holding fal.submit, fal.wait, fal.result and media.download spans, each with
happyhorse.job_id, and no span attribute holds the prompt or the key."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from ..fakefal import ADMIN_KEY, VALID_KEY, FakeFal, serve_app
from ..otlp import Receiver, traced_http_server
from ..support import free_port, stdio_server, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]

PROMPT = "a secret-sounding prompt about a grey horse"
PAID_PATH = {"fal.submit", "fal.wait", "fal.result", "media.download"}


async def test_a_call_carrying_a_traceparent_yields_one_trace_of_the_paid_path_without_prompt_or_key(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra (installed with dev)")
    receiver, port = Receiver(), free_port()
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    folder = tmp_path / "videos"
    folder.mkdir()
    async with serve_app(receiver.app, port):
        params = stdio_server(
            fal_url,
            tmp_path / "data",
            HAPPYHORSE_ALLOWED_DIRS=str(folder),
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
            OTEL_SERVICE_NAME="happyhorse-test",
            OTEL_BSP_SCHEDULE_DELAY="50",
        )
        with (tmp_path / "stderr.log").open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
                made = await client.call_tool(
                    "generate_video",
                    {"prompt": PROMPT, "duration": 3, "save_to": str(folder / "horse.mp4"), "wait_seconds": 30},
                    meta={"traceparent": traceparent},  # type: ignore[arg-type]
                )
                # The SDK's span for the call ends, and is exported, after the answer: waited for by name.
                spans = await receiver.until(trace_id, {*PAID_PATH, "tools/call generate_video"})
    assert made.structured_content is not None, text_of(made)
    job_id = made.structured_content["job_id"]
    by_name = {span["name"]: span for span in spans}
    assert set(by_name) >= PAID_PATH
    assert all(by_name[name]["attributes"]["happyhorse.job_id"] == job_id for name in PAID_PATH)
    assert by_name["fal.submit"]["attributes"]["happyhorse.fal_request_id"]
    assert any(span["name"].startswith("tools/call") for span in spans), "beneath the SDK's span for the call"
    written = " ".join(str(value) for span in spans for value in span["attributes"].values())
    assert "grey horse" not in written
    assert VALID_KEY not in written
    assert VALID_KEY.split(":")[1] not in written


async def test_a_job_finished_after_a_restart_still_joins_the_trace_of_the_call_that_started_it(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra (installed with dev)")
    fake.hold = True
    receiver, port = Receiver(), free_port()
    trace_id = secrets.token_hex(16)
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    async with serve_app(receiver.app, port):
        with (tmp_path / "first.log").open("w") as errlog:
            first = stdio_server(fal_url, tmp_path / "data", **otel)
            async with Client(stdio_client(first, errlog=errlog), mode="legacy") as client:
                started = await client.call_tool(
                    "generate_video",
                    {"prompt": PROMPT, "duration": 3, "wait_seconds": 0},
                    meta={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},  # type: ignore[arg-type]
                )
        (job,) = fake.submits
        fake.complete(job.request_id)
        with (tmp_path / "second.log").open("w") as errlog:
            second = stdio_server(fal_url, tmp_path / "data", **otel)  # the same jobs: it follows the job on
            async with Client(stdio_client(second, errlog=errlog), mode="legacy") as client:
                spans = await receiver.until(trace_id, {"fal.submit", "fal.wait", "fal.result"})
    assert started.structured_content is not None, text_of(started)
    assert {span["attributes"]["happyhorse.job_id"] for span in spans if span["name"].startswith("fal.")} == {
        started.structured_content["job_id"]
    }


async def test_metrics_of_the_paid_path_are_exported_beside_the_traces(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra (installed with dev)")
    fake.queue_seconds, fake.run_seconds = 0.2, 0.5  # long enough to be seen queued, then running
    receiver, port = Receiver(), free_port()
    wanted = {
        "mcp.server.operation.duration",
        "happyhorse.cost.estimated",
        "happyhorse.fal.time_to_start",
        "happyhorse.fal.time_to_finish",
        "happyhorse.jobs.in_flight",
    }
    async with serve_app(receiver.app, port):
        params = stdio_server(
            fal_url,
            tmp_path / "data",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
            OTEL_METRIC_EXPORT_INTERVAL="200",
        )
        with (tmp_path / "stderr.log").open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
                made = await client.call_tool("generate_video", {"prompt": PROMPT, "duration": 3, "wait_seconds": 30})
                measured = await receiver.until_measured(wanted)
    assert made.structured_content is not None, text_of(made)
    assert made.structured_content["status"] == "completed"
    calls = measured["mcp.server.operation.duration"]
    assert {"mcp.method.name": "tools/call", "gen_ai.tool.name": "generate_video"} in calls
    assert {"happyhorse.endpoint": "alibaba/happy-horse/text-to-video"} in measured["happyhorse.cost.estimated"]
    assert {"happyhorse.endpoint": "alibaba/happy-horse/text-to-video", "status": "completed"} in measured[
        "happyhorse.fal.time_to_finish"
    ]


async def test_a_call_over_http_traced_only_in_its_headers_joins_the_callers_trace(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra (installed with dev)")
    trace_id = secrets.token_hex(16)
    traced = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}  # as HTTP-instrumented clients send it
    async with (
        traced_http_server(fal_url, tmp_path / "data") as (receiver, url),
        httpx2.AsyncClient(headers=traced, timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        made = await client.call_tool("generate_video", {"prompt": PROMPT, "duration": 3, "wait_seconds": 30})
        # The SDK's span for the call ends, and is exported, after the answer: waited for by name.
        spans = await receiver.until(trace_id, {"tools/call generate_video", "fal.submit", "fal.result"})
    assert made.structured_content is not None, text_of(made)
    assert {span["attributes"]["happyhorse.job_id"] for span in spans if span["name"].startswith("fal.")} == {
        made.structured_content["job_id"]
    }


async def test_fal_s_webhook_and_its_bill_join_the_trace_of_the_call_that_started_the_job(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra (installed with dev)")
    trace_id = secrets.token_hex(16)
    fake.bill = 0.75
    async with (
        traced_http_server(fal_url, tmp_path / "data", webhooks=True, FAL_ADMIN_KEY=ADMIN_KEY) as (
            receiver,
            url,
        ),
        httpx2.AsyncClient(timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        made = await client.call_tool(
            "generate_video",
            {"prompt": PROMPT, "duration": 3, "wait_seconds": 30},
            meta={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},  # type: ignore[arg-type]
        )
        spans = await receiver.until(trace_id, {"fal.submit", "fal.wait", "fal.webhook", "fal.billed"})
    assert made.structured_content is not None, text_of(made)
    by_name = {span["name"]: span["attributes"] for span in spans}
    assert by_name["fal.webhook"]["http.response.status_code"] == 200
    assert by_name["fal.billed"]["happyhorse.billed_usd"] == pytest.approx(0.75)
    assert "fal.result" not in by_name, "the webhook carried the output"
