"""fal_key: a signed-in person's own fal key, so their videos bill their own fal account (offered when the server
sets HAPPYHORSE_USER_KEYS_SECRET). The key is never typed into the chat: `set` opens a page this server serves
(transport/key_page.py), by URL elicitation when the client can, else the error says where to go."""

import secrets
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from ...domain.errors import NotAllowedError
from ...domain.principal import GENERATE_SCOPE
from ..boundary import tool_errors
from ..identity import caller
from ..state import app_state
from ._shelf import ToolShelf

TOOL = "fal_key"
KEY_PAGE = "/keys/"


def _page_url(ctx: Context[Any, Any], token: str) -> str:
    """The key page's public URL: from HAPPYHORSE_RESOURCE_URL when set, else from the request's own address."""
    public = app_state(ctx).settings.http.resource_url
    if public:
        parts = urlsplit(public)
        base = f"{parts.scheme}://{parts.netloc}"
    else:
        base = str(getattr(ctx.request_context.request, "base_url", "")).rstrip("/")
    return f"{base}{KEY_PAGE}{token}"


def _said(text: str, *, error: bool = False) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=error)


def register(shelf: ToolShelf) -> None:
    @shelf.tool(
        name=TOOL,
        title="Your own fal key",
        annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=True, open_world_hint=False),
        description="Use your own fal key, so your videos bill your fal account: set (opens a page to enter it; "
        "never type a key in the chat), delete, or status.",
    )
    @tool_errors
    async def fal_key(
        ctx: Context[Any, Any],
        action: Annotated[Literal["set", "delete", "status"], Field(description="What to do.")] = "status",
    ) -> CallToolResult:
        principal = caller()
        accounts = (await app_state(ctx).backend()).accounts
        if principal.is_local or accounts.vault is None:
            raise ToolError(
                "Your own fal key is for people signed in to a shared server; this server's key is its FAL_KEY."
            )
        if action == "set" and not principal.may_generate:  # a key is only ever used to spend
            raise NotAllowedError(GENERATE_SCOPE, "using your own fal key", by_oauth=principal.by_oauth)
        if action == "status":
            if await accounts.has_own_key(principal.user):
                return _said("Your own fal key is set: your videos bill your fal account.")
            return _said("You have no fal key of your own here: your videos bill the server's fal account.")
        if action == "delete":
            if await accounts.delete(principal.user):
                return _said(
                    "Your fal key is deleted from this server; your next videos bill the server's fal account. A job "
                    "still running on your key can no longer be followed here (see fal.ai/dashboard/requests)."
                )
            return _said("You had no fal key of your own here; nothing changed.")
        state = await accounts.key_state(principal.user)
        url = _page_url(ctx, accounts.vault.page_token(principal.user, state))
        capabilities = ctx.client_capabilities
        elicitation = capabilities.elicitation if capabilities is not None else None
        if elicitation is not None and elicitation.url is not None and ctx.protocol_version == "2025-11-25":
            answer = await ctx.elicit_url(
                "Enter your fal key on this page (it is kept sealed on the server, never in the chat).",
                url,
                elicitation_id=secrets.token_hex(16),  # not part of the link: it may be logged
            )
            if answer.action == "accept":
                return _said("Enter your fal key on the page that opened; your next videos use it once it is saved.")
            return _said("The page was not opened; nothing changed.")
        # A tool error, returned rather than raised: the SDK logs a raised error's text, and the link must never
        # reach a log (anyone who reads it could set the key this person's videos are billed to).
        return _said(
            f"This client cannot open a page for you. Open {url} in your browser within ten minutes and enter your "
            "fal key there (never in this chat); the link works once. Your next videos use the key once it is saved.",
            error=True,
        )
