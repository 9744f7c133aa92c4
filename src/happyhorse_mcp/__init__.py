"""MCP server for HappyHorse-1.0 video generation on fal."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("happyhorse-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"


def main() -> None:
    from .cli import main as cli_main

    cli_main()
