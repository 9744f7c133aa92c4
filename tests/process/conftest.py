import pytest

from ..support import free_port


@pytest.fixture
def port() -> int:
    """A free loopback port for a server under test."""
    return free_port()


@pytest.fixture
def resource(port: int) -> str:
    """That server's MCP URL, as the resource its access tokens name."""
    return f"http://127.0.0.1:{port}/mcp"
