"""Every touch of the MCP SDK's private parts, in one place. tests/unit/server/test_sdk_hooks.py fails loudly when an
SDK update moves one, rather than leaving hosts without tasks, subscriptions or Ctrl+C.

- The low-level server behind MCPServer: request handlers the high-level API does not register (logging/setLevel,
  resources/subscribe, tasks/*), its extensions map (server/discover), and serving given message streams
  (transport/stdio.py).
- The resource manager's templates: MCPServer registers a template only through its decorator, which builds the
  template's argument model and validator anew for each server; the server adds ones built once per process.
- A request's session's connection: the SDK hands low-level handlers a per-request session with no public way to
  the connection it belongs to, and subscriptions and task notifications must live exactly as long as it does.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.connection import Connection
from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver.resources import ResourceTemplate
from mcp.server.session import ServerSession


def lowlevel_server(mcp: MCPServer[Any]) -> Server[Any]:
    server: Server[Any] = mcp._lowlevel_server
    return server


def add_resource_template(mcp: MCPServer[Any], template: ResourceTemplate) -> None:
    mcp._resource_manager._templates[template.uri_template] = template


def connection_of(session: ServerSession) -> Connection:
    connection: Connection = session._connection
    return connection
