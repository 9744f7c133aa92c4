"""The address fal posts each job's end to, `/fal/webhook/<job id>.<secret>` (jobs/webhooks.py decides what a
delivery means). Outside the MCP path, so no bearer token is asked: fal's signature, and the job's secret in the URL,
are what make a delivery believed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.errors import HappyHorseError
from ..fal.webhooks import MAX_BODY_BYTES

if TYPE_CHECKING:
    from ..jobs.runner import JobRunner
    from ..server import HappyHorseServer

WEBHOOK_ROUTE = "/fal/webhook/{token}"


def webhook_endpoint(runner_of: Callable[[], Awaitable[JobRunner | None]]) -> Callable[[Request], Awaitable[Any]]:
    """The route's handler, on the runner `runner_of` gives (None while the server starts)."""

    async def deliver(request: Request) -> Response:
        runner = await runner_of()
        if runner is None:
            return JSONResponse({"said": "the server is not ready; deliver again"}, status_code=503)
        if runner.webhooks is None:
            return JSONResponse({"said": "this server takes no webhooks (HAPPYHORSE_WEBHOOK_URL)"}, status_code=404)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return JSONResponse({"said": "too large for a webhook"}, status_code=413)
        token = request.path_params["token"]
        reply = await runner.webhooks.receive(runner, token, request.headers, bytes(body))
        return JSONResponse({"said": reply.said}, status_code=reply.status)

    return deliver


def serve_fal_webhook(mcp: HappyHorseServer) -> None:
    async def runner() -> JobRunner | None:
        try:
            return (await mcp.state.backend()).runner if mcp.state is not None else None
        except HappyHorseError:
            return None

    mcp.custom_route(WEBHOOK_ROUTE, methods=["POST"], include_in_schema=False)(webhook_endpoint(runner))
