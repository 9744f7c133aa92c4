"""The floor for cold start: a bare one-tool MCPServer on the same mcp version as happyhorse-mcp."""

from mcp.server import MCPServer

mcp = MCPServer("floor")


@mcp.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


if __name__ == "__main__":
    mcp.run("stdio")
