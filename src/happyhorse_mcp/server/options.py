"""How the job machinery is built, for tests: another HTTP client (the fake fal in-process), no backoff, fast
polling."""

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
