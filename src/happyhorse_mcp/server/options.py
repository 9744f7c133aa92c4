"""How a server is built: for which transport (`Serving`), and, for tests, how its job machinery reaches fal (another
HTTP client, no backoff, fast polling)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from ..fal.queue import RetryPolicy
    from ..jobs.follow import FollowPolicy


@dataclass(frozen=True)
class BackendOptions:
    """Test hooks: another HTTP client (the fake fal in-process), no backoff, fast polling."""

    http_client_factory: Callable[[], httpx.AsyncClient] | None = None
    retry: RetryPolicy | None = None
    follow: FollowPolicy | None = None


@dataclass(frozen=True)
class Serving:
    """The transport a server is built for. Over HTTP the client is on another machine: its roots describe its own
    disk, never this one, and the server's own paths mean nothing to it. Stateless (replicas) has no sessions to ask
    or notify a 2025-11-25 client through (server/stateless.py)."""

    over_http: bool = False
    stateless: bool = False


STDIO = Serving()
