"""MCP server for HappyHorse-1.0 video generation on fal."""

# Read by the build (pyproject's [tool.hatch.version]); a literal, since importlib.metadata costs 35 ms at start.
__version__ = "0.1.0"
