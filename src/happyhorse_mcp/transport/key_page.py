"""The page where a signed-in person enters their own fal key (HAPPYHORSE_USER_KEYS_SECRET set), so it never passes
through the chat: `fal_key(action="set")` gives them a link (by URL elicitation when their client can open one),
good for ten minutes and only for them (auth/key_vault.py signs it); the key typed there is sealed and stored.

A link works once: it names its owner and where their key stood when it was made, and stops working once that
changes (a key saved through it, or deleted). The page names the account the key will pay for before anything is
typed, and takes only a same-origin POST carrying the token of the form it served to that browser (a cookie binds
the two), so a page elsewhere cannot post a key into someone's link. Its Host is checked as /mcp's is (http.py).

The page loads nothing from anywhere (its CSP allows no script at all), is never cached, sends no referrer, and
cannot be framed.
"""

from __future__ import annotations

import hmac
import html
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..auth.key_vault import PAGE_LINK_SECONDS
from ..domain.errors import HappyHorseError
from ..server import HappyHorseServer

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


COOKIE = "happyhorse_key_form"


def _form(account: str, form_token: str) -> str:
    return (
        f"<p>This page sets the fal key for <strong>{html.escape(account)}</strong> on this server: the HappyHorse "
        "videos <em>that account</em> makes will be billed to the fal account whose key you enter. If that is not "
        "you, close this page.</p>"
        "<p>The key is kept sealed on the server, never shown again, and can be deleted at any time "
        "(<code>fal_key</code> with <code>action=delete</code>). This link works once.</p>"
        '<form method="post"><label>fal key (key-id:key-secret, from '
        '<a href="https://fal.ai/dashboard/keys">fal.ai/dashboard/keys</a>)<br>'
        '<input name="fal_key" type="password" autocomplete="off" required></label>'
        f'<input type="hidden" name="form_token" value="{form_token}">'
        "<p><button>Save my key</button></p></form>"
    )


def account_name(owner: str) -> str:
    """A user as a person reads it: `alice`, or `alice (signed in at https://login.example.com)`."""
    issuer, sep, subject = owner.partition("#")
    return f"{subject} (signed in at {issuer})" if sep and "://" in issuer else owner


EXPIRED = (
    "<p>Links to this page work once, for ten minutes, and only while your key stays as it was when the link was "
    "made. Ask for a new one in your chat: <code>fal_key</code> with <code>action=set</code>.</p>"
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
        link = request.path_params["token"]
        named = vault.page_owner(link)
        if named is None or await backend.accounts.key_state(named[0]) != named[1]:
            return _page("This link no longer works", EXPIRED, 410)
        owner = named[0]
        if request.method == "GET":
            browser = secrets.token_urlsafe(24)
            page = _page("Your own fal key", _form(account_name(owner), vault.form_token(link, browser)))
            page.set_cookie(
                COOKIE, browser, max_age=PAGE_LINK_SECONDS, path=request.url.path, httponly=True, samesite="strict"
            )
            return page
        form: Any = await request.form()
        origin = request.headers.get("origin")
        same_origin = origin is not None and urlsplit(origin).netloc == request.headers.get("host")
        browser = request.cookies.get(COOKIE, "")
        expected = vault.form_token(link, browser)
        if not same_origin or not browser or not hmac.compare_digest(str(form.get("form_token") or ""), expected):
            logger.warning("refused a key page form that did not come from the page this server served")
            return _page(
                "Not saved",
                "<p>This form did not come from the page this server served to this browser. Open your link again "
                "and enter the key there.</p>",
                403,
            )
        try:
            await backend.accounts.save(owner, str(form.get("fal_key") or ""))
        except HappyHorseError as exc:
            return _page("Not saved", f"<p>{html.escape(exc.message)}</p><p>Open your link again to retry.</p>", 400)
        logger.info("a user saved their own fal key")
        page = _page("Saved", "<p>Your key is saved. Go back to your chat: your next videos use it.</p>")
        page.delete_cookie(COOKIE, path=request.url.path)
        return page

    mcp.custom_route(KEY_PAGE_PATH, methods=["GET", "POST"], include_in_schema=False)(key_page)
