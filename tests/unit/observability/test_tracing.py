"""What the log says of where traces go: the collector's address, never credentials carried in its URL."""

from __future__ import annotations

import pytest

from happyhorse_mcp.observability.tracing import _without_credentials


@pytest.mark.parametrize(
    ("endpoint", "logged"),
    [
        ("https://user:s3cret@collector.internal:4318/v1?token=abc#x", "https://collector.internal:4318/v1"),
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318"),
        ("http://[::1]:4318/otlp", "http://[::1]:4318/otlp"),
    ],
)
def test_the_collector_is_logged_without_the_credentials_or_query_of_its_url(endpoint: str, logged: str) -> None:
    assert _without_credentials(endpoint) == logged
