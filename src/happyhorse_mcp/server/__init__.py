"""Everything that speaks MCP: the server, its tools, resources, prompts and the error boundary."""

from .app import HappyHorseServer, create_server, select_tools

__all__ = ["HappyHorseServer", "create_server", "select_tools"]
