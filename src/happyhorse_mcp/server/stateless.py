"""What a server run with --stateless cannot do for a 2025-11-25 client, said rather than pretended.

Each request of a stateless server may land on another process (or replica) with no session behind it: a question
to the client mid-call (elicitation) has nowhere to come back to, and a subscription has no connection to notify.
So for 2025-11-25 clients the server advertises no `resources.subscribe`, refuses `resources/subscribe` saying what
to do instead, and a price confirmation says why it cannot ask (max_cost_usd pre-approves). Roots are never asked
over HTTP at all (the client's disk is not this one). 2026-07-28 clients lose nothing: questions come back within
the call (input-required) and `subscriptions/listen` works on any replica.
"""

from __future__ import annotations

from typing import Any

from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_REQUEST
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

STATELESS_CANNOT_ASK = (
    "this server runs stateless (--stateless), where a 2025-11-25 client cannot be asked mid-call; a 2026-07-28 "
    "client is asked within the call"
)
STATELESS_NO_SUBSCRIBE = (
    "This server runs stateless (--stateless): it keeps no connection to a 2025-11-25 client, so it cannot notify "
    "one of changes. Wait on a job with get_job(job_id, wait_seconds=...) or read the resource again; a 2026-07-28 "
    "client can listen for changes (subscriptions/listen) on a stateless server."
)


def stateless_legacy(ctx: Any) -> bool:
    """A 2025-11-25 client of a server run with --stateless (a tool's Context or a request context)."""
    server = getattr(ctx, "mcp_server", None) or getattr(ctx, "server", None)
    serving = getattr(server, "serving", None)
    return bool(getattr(serving, "stateless", False)) and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS


def stateless_truth(is_stateless: Any) -> Any:
    """Middleware: on a stateless server, no subscription advertised to or accepted from a 2025-11-25 client."""

    async def middleware(ctx: Any, call_next: Any) -> Any:
        if not is_stateless():
            return await call_next(ctx)
        if ctx.method == "resources/subscribe":
            raise MCPError(INVALID_REQUEST, STATELESS_NO_SUBSCRIBE)
        result = await call_next(ctx)
        if ctx.method == "initialize" and isinstance(result, dict):
            resources = result.get("capabilities", {}).get("resources")
            if isinstance(resources, dict):
                resources["subscribe"] = False
        return result

    return middleware
