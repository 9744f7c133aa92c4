"""The process's one set of TLS settings for its outgoing HTTPS (fal, an OAuth issuer)."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS settings, made once per process: making them reads the whole CA bundle (25 ms of CPU)."""
    return httpx.create_ssl_context()
