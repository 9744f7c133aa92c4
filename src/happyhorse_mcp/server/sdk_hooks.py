"""Every touch of the MCP SDK's private parts, in one place. tests/unit/server/test_sdk_hooks.py fails loudly when an
SDK update moves one, rather than leaving hosts without tasks, subscriptions or Ctrl+C.

- The low-level server behind MCPServer: request handlers the high-level API does not register (logging/setLevel,
  resources/subscribe, tasks/*), its extensions map (server/discover), and serving given message streams (stdio.py).
- A request's session's connection: the SDK hands low-level handlers a per-request session with no public way to
  the connection it belongs to, and subscriptions and task notifications must live exactly as long as it does.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.connection import Connection
from mcp.server.lowlevel.server import Server
from mcp.server.session import ServerSession


def lowlevel_server(mcp: MCPServer[Any]) -> Server[Any]:
    server: Server[Any] = mcp._lowlevel_server
    return server


def connection_of(session: ServerSession) -> Connection:
    connection: Connection = session._connection
    return connection
