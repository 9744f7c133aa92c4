"""The SDK internals the server relies on (server/sdk_hooks.py), checked so an SDK update that moves one fails here,
loudly, rather than leaving hosts without tasks, subscriptions or a stdio transport: the middleware hook and its
context, the low-level server (request handlers, the extensions map, running on given streams), the resource
manager's templates, and a session's connection with its outbound channel and exit stack."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from mcp.server import MCPServer
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server

from happyhorse_mcp.config import Settings
from happyhorse_mcp.server import create_server
from happyhorse_mcp.server.sdk_hooks import lowlevel_server
from happyhorse_mcp.server.tasks import EXTENSION


def test_mcpserver_still_takes_middleware_that_wraps_every_request() -> None:
    assert "middleware" in inspect.signature(MCPServer.__init__).parameters
    fields = {field.name for field in dataclasses.fields(ServerRequestContext)}
    assert {"session", "lifespan_context", "protocol_version", "method", "params"} <= fields


def test_the_low_level_server_still_takes_new_request_handlers_and_advertises_extensions() -> None:
    assert "add_request_handler" in vars(Server)
    server = create_server(Settings(fal_key=None))
    low = lowlevel_server(server)
    assert "run" in vars(Server), "stdio.py serves on streams through it"
    assert EXTENSION in low.extensions
    for method in ("tasks/get", "tasks/result", "tasks/list", "tasks/cancel", "tasks/update"):
        assert low.get_request_handler(method) is not None, method
    assert server.middleware, "the task middleware is registered"


def test_a_connection_still_has_an_outbound_channel_and_an_exit_stack() -> None:
    annotations = inspect.get_annotations(Connection, eval_str=False)
    members = set(annotations) | set(vars(Connection))
    assert {"outbound", "exit_stack"} <= members


def test_a_session_still_knows_its_connection() -> None:
    from mcp.server.session import ServerSession

    assert "self._connection" in inspect.getsource(ServerSession)


@pytest.mark.anyio
async def test_a_resource_template_built_once_is_listed_and_read_on_every_server_it_is_added_to() -> None:
    from mcp import Client
    from mcp.server.mcpserver.resources import ResourceTemplate

    from happyhorse_mcp.server.sdk_hooks import add_resource_template

    async def echo(word: str) -> str:
        return f"said {word}"

    template = ResourceTemplate.from_function(echo, uri_template="echo://{word}", name="echo")
    for _ in range(2):
        server = MCPServer("echo")
        add_resource_template(server, template)
        async with Client(server) as client:
            listed = await client.list_resource_templates()
            read = await client.read_resource("echo://hello")
        assert [t.uri_template for t in listed.resource_templates] == ["echo://{word}"]
        assert read.contents[0].text == "said hello"  # type: ignore[union-attr]
