"""Streamable HTTP for shared use: the SDK's transport behind a bearer token and DNS-rebinding protection.

Anyone who can reach an unauthenticated video server spends its owner's money, so the token is required on any
address but loopback, Host and Origin are checked on every bind (the SDK checks them by itself only on loopback),
and the fal key stays in this process: it is never taken from a client or sent to one.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.provider import TokenVerifier
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import __version__
from ..config.settings import HttpSettings, Settings
from ..domain.film import SPENDING_TOOLS
from ..domain.principal import SCOPES
from ..server import HappyHorseServer
from ..server.options import Serving
from .discovery import serve_discovery
from .events import BoundedEventStore
from .fal_webhook import serve_fal_webhook
from .front_door import FrontDoor
from .sessions import SessionQuota
from .trace_headers import TraceHeaders

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"
WELL_KNOWN_RESOURCE = "/.well-known/oauth-protected-resource"
LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _every_interface(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


@dataclass(frozen=True)
class HttpOptions(HttpSettings):
    """The operator's HTTP settings, and where this start listens (from the command line)."""

    host: str = "127.0.0.1"
    port: int = 8000
    stateless: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, *, host: str, port: int, stateless: bool) -> HttpOptions:
        set_by_operator = {f.name: getattr(settings.http, f.name) for f in fields(HttpSettings)}
        return cls(**set_by_operator, host=host, port=port, stateless=stateless)

    @property
    def serving(self) -> Serving:
        """What the server must be built for to be served with these options."""
        return Serving(over_http=True, stateless=self.stateless)

    def security(self) -> TransportSecuritySettings:
        """Host and Origin allow-lists: the bound address, the public address of HAPPYHORSE_RESOURCE_URL (what
        clients are told to call), and what the operator added."""
        names = {self.host}
        if is_loopback(self.host):
            names |= {"127.0.0.1", "localhost", "[::1]"}
        hosts = [f"{name}:{self.port}" for name in sorted(names)]
        origins = [f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")]
        if self.resource_url:
            public = urlsplit(self.resource_url)
            default_port = {"https": 443, "http": 80}.get(public.scheme)
            hosts.append(public.netloc)
            if public.port is None and default_port is not None:
                hosts.append(f"{public.netloc}:{default_port}")
            origins.append(f"{public.scheme}://{public.netloc}")
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[*hosts, *self.allowed_hosts],
            allowed_origins=[*origins, *self.allowed_origins],
        )

    def host_allowed(self, host: str | None) -> bool:
        """The SDK's Host rule (an exact entry, or `name:*` for any port), for the routes besides /mcp that a
        browser is sent to (the key page)."""
        allowed = self.security().allowed_hosts or []
        return bool(host) and any(
            host == entry or (entry.endswith(":*") and (host or "").startswith(entry[:-1])) for entry in allowed
        )

    def start_warnings(self) -> list[str]:
        """What the operator should hear at start: an address every interface answers on, with no name clients
        could send as their Host, answers every request 421; a per-client share so large that two clients fill the
        server."""
        warnings = []
        if not self.stateless and self.sessions_per_client * 2 > self.max_sessions:
            warnings.append(
                f"HAPPYHORSE_HTTP_SESSIONS_PER_CLIENT ({self.sessions_per_client}) is more than half of "
                f"HAPPYHORSE_HTTP_MAX_SESSIONS ({self.max_sessions}): two clients could hold every session and lock "
                "the others out. Lower the first or raise the second"
            )
        if _every_interface(self.host) and not (self.allowed_hosts or self.resource_url):
            warnings.append(
                f"listening on {self.host}, but only requests whose Host header is {self.host}:{self.port} are "
                "accepted (DNS-rebinding protection); every other gets 421 Invalid Host header. Set "
                "HAPPYHORSE_ALLOWED_HOSTS to the names clients use (e.g. mcp.example.com,10.0.0.5:8000), or "
                "HAPPYHORSE_RESOURCE_URL to this server's public MCP URL"
            )
        return warnings


class BindError(ValueError):
    """The server cannot or must not listen where asked: no token off loopback, a busy port, no such address."""


def check_port(host: str, port: int) -> None:
    """Refuse an address and port another program already listens on, before anything says it serves there."""
    try:
        family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host.strip("[]"), port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise BindError(
                f"port {port} on {host} is already in use by another program: choose another with --port"
            ) from exc
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            raise BindError(f"cannot listen on {host}: this machine has no such address ({exc})") from exc


def check_bind(options: HttpOptions) -> None:
    given = {
        "HAPPYHORSE_HTTP_TOKEN": options.token,
        "HAPPYHORSE_HTTP_TOKENS_FILE": options.tokens,
        "HAPPYHORSE_AUTH_ISSUER": options.auth_issuer,
    }
    ways = [name for name, value in given.items() if value]
    if len(ways) > 1:
        raise BindError(f"{' and '.join(ways)} are both set: choose one way for clients to sign in")
    if options.auth_issuer and not options.resource_url:
        raise BindError(
            "HAPPYHORSE_AUTH_ISSUER needs HAPPYHORSE_RESOURCE_URL: this server's public MCP URL (e.g. "
            "https://mcp.example.com/mcp), which its access tokens must name as their audience"
        )
    for name, url in [
        ("HAPPYHORSE_RESOURCE_URL", options.resource_url),
        ("HAPPYHORSE_AUTH_ISSUER", options.auth_issuer),
    ]:
        parts = urlsplit(url or "")
        if url and parts.scheme != "https" and not is_loopback(parts.hostname or ""):
            raise BindError(f"{name} must be an https URL (plain http only on loopback), got {url}")
    if not is_loopback(options.host) and not ways:
        raise BindError(
            f"refusing to listen on {options.host} without a token: anyone who can reach it could spend your fal "
            "balance. Set HAPPYHORSE_HTTP_TOKEN (or HAPPYHORSE_HTTP_TOKEN_FILE; or sign-in: "
            "HAPPYHORSE_HTTP_TOKENS_FILE or HAPPYHORSE_AUTH_ISSUER), or bind to 127.0.0.1."
        )


def build_app(mcp: HappyHorseServer, options: HttpOptions) -> ASGIApp:
    check_bind(options)
    if mcp.serving != options.serving:
        raise ValueError(
            f"the server was built for {mcp.serving}, not for these HTTP options: build it with "
            "create_server(settings, serving=options.serving)"
        )

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    mcp.custom_route(HEALTH_PATH, methods=["GET"], include_in_schema=False)(health)
    metadata_url = _publish_resource_metadata(mcp, options)  # routes first: the app is built from them
    card_path = serve_discovery(
        mcp, MCP_PATH, resource_url=options.resource_url, token_header=bool(options.token or options.tokens)
    )
    if options.signs_in:
        from .key_page import serve_key_page

        serve_key_page(mcp)
    serve_fal_webhook(mcp)

    app: Any = mcp.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=options.stateless,
        transport_security=options.security(),
        max_sessions=options.max_sessions,
        session_idle_timeout=options.session_idle_seconds,
        event_store=None if options.stateless else BoundedEventStore(),
        host=options.host,
    )
    app = TraceHeaders(app, path=MCP_PATH)
    if not options.stateless:
        app = SessionQuota(
            app,
            path=MCP_PATH,
            per_client=options.sessions_per_client,
            idle_seconds=options.session_idle_seconds,
            stream_seconds=options.stream_seconds,
        )
    if options.token or options.signs_in:
        app = FrontDoor(
            app,
            _verifier(options),
            path=MCP_PATH,
            generation_tools=SPENDING_TOOLS & set(mcp.tool_hints),
            resource_metadata_url=metadata_url,
            open_paths=(card_path,),
        )
    if options.signs_in:
        from .key_page import KEY_PAGE_PREFIX

        app = HostChecked(app, options, KEY_PAGE_PREFIX)
    if options.allowed_origins:
        app = _cors(app, options.allowed_origins)
    return app  # type: ignore[no-any-return]


class HostChecked:
    """The Host check /mcp has (the SDK's, against DNS rebinding), for the other pages a browser is sent to: a page
    reached through a name that resolves to this server but is not its own is refused with 421."""

    def __init__(self, app: ASGIApp, options: HttpOptions, prefix: str) -> None:
        self.app, self._options, self._prefix = app, options, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self._prefix):
            host = Headers(scope=scope).get("host")
            if not self._options.host_allowed(host):
                logger.warning("refused a request for %s with the Host header %r", self._prefix, host)
                await Response("Invalid Host header", status_code=421)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# What a browser page on an allowed origin may send and read: the MCP headers of both protocol eras, the token.
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Accept",
    "Last-Event-ID",
    "Mcp-Session-Id",
    "Mcp-Protocol-Version",
    "Mcp-Method",
    "Mcp-Name",
)
CORS_EXPOSED_HEADERS = ("Mcp-Session-Id", "Mcp-Protocol-Version", "WWW-Authenticate")


def _cors(app: ASGIApp, origins: tuple[str, ...]) -> ASGIApp:
    """Browser clients on the configured origins (HAPPYHORSE_ALLOWED_ORIGINS): preflights answered before any token
    is asked for, the MCP headers allowed, the session id and the bearer challenge readable. Other origins get no
    CORS headers at all, so a page elsewhere cannot read an answer. Starlette's middleware, outermost."""
    from starlette.middleware.cors import CORSMiddleware

    return CORSMiddleware(
        app,
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=list(CORS_REQUEST_HEADERS),
        expose_headers=list(CORS_EXPOSED_HEADERS),
        max_age=600,
    )


def _verifier(options: HttpOptions) -> TokenVerifier:
    if options.token:
        from ..auth.static_tokens import SharedTokenVerifier

        return SharedTokenVerifier(options.token)
    if options.auth_issuer and options.resource_url:
        from ..auth.jwt_tokens import JwtVerifier

        return JwtVerifier(options.auth_issuer, options.resource_url, introspection_client=options.auth_client)
    from ..auth.static_tokens import StaticTokenVerifier

    return StaticTokenVerifier(options.tokens)


def _publish_resource_metadata(mcp: HappyHorseServer, options: HttpOptions) -> str | None:
    """With an authorization server: Protected Resource Metadata (RFC 9728) at the path-suffixed well-known URL and
    at the bare one, naming the issuer and the scopes. Named tokens publish none: a client that finds OAuth
    metadata starts an OAuth flow even when it was given a static header.

    The issuer and the resource are published exactly as configured: clients compare the issuer with the
    authorization server's own metadata character for character (RFC 8414), and the SDK's URL model would add a slash
    to a bare origin (`http://host:port` becomes `http://host:port/`), which the Python SDK 2.3 refuses."""
    if not (options.auth_issuer and options.resource_url):
        return None
    from mcp.server.auth.routes import cors_middleware

    document = {
        "resource": options.resource_url,
        "authorization_servers": [options.auth_issuer],
        "scopes_supported": list(SCOPES),
        "bearer_methods_supported": ["header"],
        "resource_name": "HappyHorse video",
    }

    async def metadata(request: Request) -> Response:
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=3600"})

    endpoint = cors_middleware(metadata, ["GET", "OPTIONS"])
    parts = urlsplit(options.resource_url)
    suffix = parts.path.rstrip("/")
    for path in {WELL_KNOWN_RESOURCE + suffix, WELL_KNOWN_RESOURCE}:
        mcp.custom_route(path, methods=["GET", "OPTIONS"], include_in_schema=False)(endpoint)
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN_RESOURCE}{suffix}"


async def serve_http(mcp: HappyHorseServer, options: HttpOptions, log_level: str) -> None:
    import uvicorn

    config = uvicorn.Config(
        build_app(mcp, options),
        host=options.host,
        port=options.port,
        log_config=None,  # our stderr logging, never stdout
        log_level=log_level.lower(),
        access_log=False,
    )
    logger.info("serving MCP at http://%s:%d%s", options.host, options.port, MCP_PATH)
    await uvicorn.Server(config).serve()
