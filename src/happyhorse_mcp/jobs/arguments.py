"""What a job record keeps of its arguments: a data: URI's digest and size instead of its bytes, and a fingerprint
of what the caller sent, which tells a retry (same idempotency key, same call) from a different call."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any


def _digest(value: str) -> str:
    header, _, payload = value.partition(",")
    return f"{header};sha256={hashlib.sha256(payload.encode()).hexdigest()};bytes={len(payload)}"


def _redacted(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("data:"):
        return _digest(value)
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def redact_data_uris(arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments with every data: URI replaced by `data:<type>;sha256=<hex>;bytes=<n>` (no payload)."""
    return {key: _redacted(value) for key, value in arguments.items()}


def fingerprint(endpoint: str, arguments: dict[str, Any]) -> str:
    canonical = json.dumps([endpoint, redact_data_uris(arguments)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_job_id() -> str:
    return "hh_" + secrets.token_hex(8)
