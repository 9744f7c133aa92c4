"""The tools a model sees: names, annotations, schemas. A schema change shows up as a snapshot diff."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mcp import Client

from happyhorse_mcp.domain.catalog import SPECS
from happyhorse_mcp.domain.film import SPENDING_TOOLS
from happyhorse_mcp.server import HappyHorseServer

pytestmark = pytest.mark.anyio

SNAPSHOT = Path(__file__).parents[1] / "snapshots" / "tools.json"
GENERATION_TOOLS = SPENDING_TOOLS


async def test_tools_list_matches_the_checked_in_snapshot(client: Client) -> None:
    listed = await client.list_tools()
    # Each era's own additions are checked below; the rest is the same on both.
    tools = [
        tool.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"execution"}) for tool in listed.tools
    ]
    rendered = json.dumps(tools, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(rendered)
    assert rendered == SNAPSHOT.read_text(), "tools/list changed: review, then rerun with UPDATE_SNAPSHOTS=1"


async def test_on_2025_11_25_the_generation_tools_say_they_may_run_as_tasks(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    supports = {name: tool.execution.task_support if tool.execution else None for name, tool in tools.items()}
    if client.protocol_version == "2026-07-28":
        assert set(supports.values()) == {None}  # the tasks extension has no tool-level opt-in
    else:
        assert {name for name, support in supports.items() if support == "optional"} == set(GENERATION_TOOLS)
        assert {support for name, support in supports.items() if name not in GENERATION_TOOLS} == {None}


async def test_generation_tools_are_open_world_writes_and_readers_are_read_only(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(tools) == {*GENERATION_TOOLS, "estimate_cost", "get_job", "cancel_job", "list_jobs", "review_video"}
    for name in GENERATION_TOOLS:
        hints = tools[name].annotations
        assert hints is not None
        assert (hints.read_only_hint, hints.idempotent_hint, hints.open_world_hint) == (False, False, True)
        assert tools[name].output_schema is not None
        assert "job_id" in tools[name].output_schema["properties"]  # type: ignore[index]
    for name in ("estimate_cost", "get_job", "list_jobs", "review_video"):
        hints = tools[name].annotations
        assert hints is not None
        assert hints.read_only_hint is True


async def test_tool_arguments_are_named_as_documented(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    expected = {
        "generate_video": [
            "prompt", "duration", "resolution", "aspect_ratio", "seed", "version", "enable_safety_checker",
            "wait_seconds", "idempotency_key", "max_cost_usd", "save_to",
        ],
        "image_to_video": [
            "image_url", "prompt", "duration", "resolution", "seed", "version", "enable_safety_checker", "wait_seconds",
            "idempotency_key", "max_cost_usd", "save_to",
        ],
        "reference_to_video": [
            "prompt", "image_urls", "duration", "resolution", "aspect_ratio", "seed", "version",
            "enable_safety_checker", "wait_seconds", "idempotency_key", "max_cost_usd", "save_to",
        ],
        "edit_video": [
            "video_url", "prompt", "reference_image_urls", "resolution", "audio_setting", "seed",
            "enable_safety_checker", "wait_seconds", "idempotency_key", "max_cost_usd", "source_duration",
            "save_to",
        ],
        "make_film": [
            "shots", "style", "transition", "transition_seconds", "version", "resolution", "aspect_ratio", "seed",
            "wait_seconds", "idempotency_key", "max_cost_usd", "save_to",
        ],
        "extend_video": [
            "job_id", "video_url", "seconds", "prompt", "transition", "transition_seconds", "version", "resolution",
            "seed", "wait_seconds", "idempotency_key", "max_cost_usd", "save_to",
        ],
        "estimate_cost": ["operation", "duration", "resolution", "version", "source_duration"],
        "get_job": ["job_id", "wait_seconds"],
        "cancel_job": ["job_id"],
        "list_jobs": ["status", "limit"],
        "review_video": ["job_id", "frames", "at_seconds"],
    }  # fmt: skip
    for name, arguments in expected.items():
        assert sorted(tools[name].input_schema["properties"]) == sorted(arguments), name


async def test_tool_descriptions_teach_the_prompt_conventions_and_the_instructions_give_every_price(
    client: Client, server: HappyHorseServer
) -> None:
    tools = {tool.name: tool.description or "" for tool in (await client.list_tools()).tools}
    assert "character1" in tools["reference_to_video"]
    assert "@Image1" in tools["edit_video"]
    prices = next(line for line in (server.instructions or "").splitlines() if line.startswith("Prices:"))
    for spec in SPECS.values():
        assert f"{spec.tool}" in prices
        assert f"USD {spec.rates[(spec.default_version, '1080p')]:.2f}" in prices
    assert "A film costs its shots" in prices


async def test_what_a_model_reads_of_tools_list_stays_under_9000_bytes(client: Client) -> None:
    """Every conversation pays for it: each tool's name, description and input schema, as compact JSON."""
    tools = (await client.list_tools()).tools
    read = [{"name": t.name, "description": t.description, "inputSchema": t.input_schema} for t in tools]
    assert sum(len(json.dumps(tool, separators=(",", ":")).encode()) for tool in read) < 9_000


async def test_guidance_shared_by_every_tool_is_said_once_in_the_instructions(server: HappyHorseServer) -> None:
    instructions = server.instructions
    assert instructions is not None
    for phrase in (
        "dolly-in",
        "always generated",
        "allowed folder",
        "get_job(job_id, wait_seconds=50)",
        "call make_film",
        "continue_from_previous",
        "storyboard prompt",
    ):
        assert phrase in instructions
