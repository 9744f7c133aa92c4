"""The page where a signed-in person enters their own fal key (HAPPYHORSE_USER_KEYS_SECRET set), so it never passes
through the chat: `fal_key(action="set")` gives them a link (by URL elicitation when their client can open one),
good for ten minutes and only for them (auth/key_vault.py signs it); the key typed there is sealed and stored.

The page loads nothing from anywhere (its CSP allows no script at all), is never cached, sends no referrer, and
cannot be framed.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .domain.errors import HappyHorseError
from .server import HappyHorseServer

logger = logging.getLogger(__name__)

KEY_PAGE_PREFIX = "/keys/"
KEY_PAGE_PATH = KEY_PAGE_PREFIX + "{token}"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
}
_STYLE = "body{font:16px system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}input{width:100%}"


def _page(title: str, body: str, status: int = 200) -> Response:
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=HEADERS)


FORM = (
    "<p>Your HappyHorse videos will be made with this key and billed to its fal account. It is kept sealed on the "
    "server, never shown again, and you can delete it at any time (<code>fal_key</code> with "
    "<code>action=delete</code>).</p>"
    '<form method="post"><label>fal key (key-id:key-secret, from '
    '<a href="https://fal.ai/dashboard/keys">fal.ai/dashboard/keys</a>)<br>'
    '<input name="fal_key" type="password" autocomplete="off" required></label>'
    "<p><button>Save my key</button></p></form>"
)


def serve_key_page(mcp: HappyHorseServer) -> None:
    async def key_page(request: Request) -> Response:
        try:
            backend = await mcp.state.backend() if mcp.state is not None else None
        except HappyHorseError:
            backend = None
        vault = backend.accounts.vault if backend is not None else None
        if backend is None or vault is None:
            return _page("Not available", "<p>This server does not take users' own fal keys.</p>", 404)
        owner = vault.page_owner(request.path_params["token"])
        if owner is None:
            return _page(
                "This link has expired",
                "<p>Links to this page last ten minutes. Ask for a new one in your chat: <code>fal_key</code> with "
                "<code>action=set</code>.</p>",
                410,
            )
        if request.method == "GET":
            return _page("Your own fal key", FORM)
        form: Any = await request.form()
        try:
            await backend.accounts.save(owner, str(form.get("fal_key") or ""))
        except HappyHorseError as exc:
            return _page("Not saved", f"<p>{html.escape(exc.message)}</p>{FORM}", 400)
        logger.info("a user saved their own fal key")
        return _page("Saved", "<p>Your key is saved. Go back to your chat: your next videos use it.</p>")

    mcp.custom_route(KEY_PAGE_PATH, methods=["GET", "POST"], include_in_schema=False)(key_page)
