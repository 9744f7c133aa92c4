"""What the server adds to MCPServer: the protocol methods it leaves out, tool selection, compact schemas."""

from __future__ import annotations

import logging

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import EmptyResult

from happyhorse_mcp.server import HappyHorseServer, select_tools

pytestmark = pytest.mark.anyio


async def test_the_methods_added_on_the_sdk_s_low_level_server_answer(server: HappyHorseServer) -> None:
    # They are registered on a private attribute of the SDK (it has no public way): this fails loudly if it moves.
    async with Client(server, mode="legacy") as client:
        with pytest.warns(MCPDeprecationWarning, match="logging capability is deprecated"):
            set_level = await client.session.set_logging_level("error")
        assert isinstance(set_level, EmptyResult)
        with pytest.warns(MCPDeprecationWarning, match="resources/subscribe is removed"):
            subscribed = await client.session.subscribe_resource("happyhorse://spend")
        assert isinstance(subscribed, EmptyResult)


@pytest.mark.parametrize("level", ["critical", "notice", "alert", "emergency", "debug"])
async def test_a_client_s_log_level_never_changes_the_server_s_own_log(server: HappyHorseServer, level: str) -> None:
    # The operator's log is not a client's to silence (a signed-in reader set it to critical, and the next job of
    # another user left no line); every level the protocol names is accepted, notice, alert and emergency too.
    before = logging.getLogger("happyhorse_mcp").level
    async with Client(server, mode="legacy") as client:
        with pytest.warns(MCPDeprecationWarning, match="logging capability is deprecated"):
            answer = await client.session.set_logging_level(level)  # type: ignore[arg-type]
    assert isinstance(answer, EmptyResult)
    assert logging.getLogger("happyhorse_mcp").level == before


async def test_read_only_selection_keeps_the_tools_annotated_read_only(server: HappyHorseServer) -> None:
    read_only = ["estimate_cost", "get_job", "list_jobs", "review_video"]
    assert select_tools(server, read_only=True) == read_only
    assert sorted(tool.name for tool in await server.list_tools()) == read_only


async def test_an_unknown_tool_name_in_the_selection_lists_the_known_ones(server: HappyHorseServer) -> None:
    with pytest.raises(ValueError, match="unknown tool"):
        select_tools(server, names=["make_coffee"])


async def test_tools_list_sends_compact_schemas(server: HappyHorseServer) -> None:
    tools = {tool.name: tool for tool in await server.list_tools()}
    seed = tools["generate_video"].input_schema["properties"]["seed"]
    assert seed["type"] == "integer"
    assert "title" not in seed


def test_the_server_starts_without_loading_pyav_or_pillow() -> None:
    """Decoding and assembling video load on the first review or film, not in every process that starts (each start
    of a stdio server pays for what it imports)."""
    import subprocess
    import sys

    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, happyhorse_mcp.cli.start, happyhorse_mcp.server.backend, happyhorse_mcp.transport.http; "
            "print(sorted(name for name in ('av', 'PIL') if name in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


def test_each_resource_template_takes_exactly_its_uri_s_variables_and_defaults_its_query_ones() -> None:
    # The checks MCPServer's `resource` decorator makes at registration, which templates built once on the shelf skip:
    # without them a mismatch would show only at the first read of such a URI.
    from mcp.shared.uri_template import UriTemplate

    from happyhorse_mcp.server.app import resource_templates

    templates = resource_templates()
    assert templates
    for template in templates:
        parsed = UriTemplate.parse(template.uri_template)
        assert set(template.parameters["properties"]) == set(parsed.variable_names), template.uri_template
        assert not set(template.parameters.get("required", [])) & set(parsed.query_variable_names)
