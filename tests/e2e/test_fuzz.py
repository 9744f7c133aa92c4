"""Thousands of generated tool calls in-process: never a crash, never a protocol error, never a submit for bad input.

Arguments are drawn from two pools: values of any JSON type under every known argument name (almost all invalid),
and well-formed but out-of-limit values. fal is the fake with every job held, so nothing ever completes and a
submit is only ever the tool's own decision.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

from happyhorse_mcp.config import Settings
from happyhorse_mcp.domain.film import SPENDING_TOOLS

from ..fakefal import FakeFal
from ..support import make_server, tool_names

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1500"))
# Every tool the server offers, read from a server when the test first draws one (not when each pytest worker
# collects this module).
tools = st.deferred(lambda: st.sampled_from(tool_names()))
WAITING_TOOLS = SPENDING_TOOLS | {"get_job"}
NAMES = [
    "prompt", "duration", "resolution", "aspect_ratio", "seed", "version", "enable_safety_checker", "wait_seconds",
    "image_url", "image_urls", "video_url", "reference_image_urls", "audio_setting", "operation", "source_duration",
    "job_id", "idempotency_key", "max_cost_usd", "save_to", "status", "limit", "confirmation", "plan", "ctx",
]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)
near_limits = {
    "duration": st.sampled_from([-1, 0, 2, 16, 10**9, 3.5, "5", "x"]),
    "prompt": st.sampled_from(["", " ", "x" * 2501, "\x00", "ok"]),
    "resolution": st.sampled_from(["480p", "4k", "", "1080P"]),
    "aspect_ratio": st.sampled_from(["21:9", "2:1", "16:10", ""]),
    "version": st.sampled_from(["2.0", "1", "", "1.1"]),
    "seed": st.sampled_from([-1, 2**31, 2**63]),
    "image_url": st.sampled_from(
        ["ftp://x", "/etc/passwd", "~/.ssh/id_rsa", "file:///etc/shadow", "data:", "javascript:1"]
    ),
    "image_urls": st.sampled_from([[], ["https://e.com/a.png"] * 10, ["gopher://x"]]),
    "reference_image_urls": st.sampled_from([["https://e.com/a.png"] * 6, ["/dev/zero"]]),
    "video_url": st.sampled_from(["/dev/zero", "http://", "data:video/mp4"]),
    "wait_seconds": st.sampled_from([-1, 601, 10**9]),
    "max_cost_usd": st.sampled_from([0, -1, 0.01]),
    "save_to": st.sampled_from(["/etc/cron.d/x.mp4", "relative.mp4", "/tmp"]),
    "source_duration": st.sampled_from([0, 2, 61, -5]),
}  # fmt: skip
arguments = st.one_of(
    st.dictionaries(st.sampled_from(NAMES), json_values, max_size=6),
    st.fixed_dictionaries({}, optional=near_limits),
)


@given(tool=tools, args=arguments)
@example(tool="generate_video", args={"prompt": "a horse"})
@example(tool="reference_to_video", args={"prompt": "character1", "image_urls": ["https://e.com/a.png"]})
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_call_crashes_raises_a_protocol_error_or_submits_bad_input(
    fuzz_client: tuple[Client, FakeFal, Any], tool: str, args: dict[str, Any]
) -> None:
    client, fake, portal = fuzz_client
    before = len(fake.submits)
    if tool in WAITING_TOOLS:
        args = {"wait_seconds": 0, **args}  # a valid call returns at once instead of waiting on a held job
    result = portal.call(client.call_tool, tool, args)

    assert isinstance(result, CallToolResult)
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        assert text.strip()
        assert not text.endswith(f"Error executing tool {tool}"), "a crash, not an anticipated failure"
        assert len(fake.submits) == before, f"{tool} submitted a job and then failed: {args!r}"
    elif len(fake.submits) > before:
        # Only a well-formed call may reach fal; check it against fal's own schema in the fake.
        from ..fakefal.app import _validate

        job = fake.submits[-1]
        assert _validate(job.endpoint_id, job.arguments) == []


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One server for all examples, driven from hypothesis's synchronous loop through a blocking portal."""
    from anyio.from_thread import start_blocking_portal

    from ..fakefal import VALID_KEY, serve

    fake = FakeFal(hold=True)
    with start_blocking_portal() as portal, ExitStack() as stack:
        url = stack.enter_context(portal.wrap_async_context_manager(serve(fake)))
        settings_ = Settings(
            fal_key=SecretStr(VALID_KEY),
            queue_url=url,
            rest_url=url,
            cdn_url=url,
            data_dir=tmp_path_factory.mktemp("fuzz"),
        )
        client = stack.enter_context(portal.wrap_async_context_manager(Client(make_server(settings_))))
        yield client, fake, portal
    # Guards the test itself: valid calls (the explicit examples at least) must have reached fal.
    assert fake.submits, "no call reached fal: the test would prove little"
