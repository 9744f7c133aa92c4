"""The job player, an MCP App (extension io.modelcontextprotocol/ui): hosts that render apps show a job's progress
and then its video next to the tool result; hosts that do not get the same text, links and structured output.

The view is one self-contained HTML file shipped in the package (player.html: no external script, no build step).
It may load media only from where videos are served: fal's media hosts and the configured CDN and download hosts,
declared in its CSP (`_meta.ui.csp.resourceDomains`, the host's media-src); nothing else. A host that ignores that
declaration (claude.ai today) or sets no media-src blocks the CDN: the view then plays the server's own copy, read
through the host as a resource (a `data:` URL, which the spec's default CSP allows), and when that cannot be had
either, shows the contact sheet with "open" and "download". It says which one it shows.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from mcp.server.apps import Apps, ResourceCsp

from ..config.settings import Settings
from ..fal.hosts import FAL_MEDIA_DOMAIN, is_fal_media
from . import resources

PLAYER_URI = "ui://happyhorse/player.html"
# The nested key is the spec's; the flat one is what hosts read before it (they must check both).
PLAYER_META: dict[str, Any] = {"ui": {"resourceUri": PLAYER_URI}, "ui/resourceUri": PLAYER_URI}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def media_origins(settings: Settings) -> list[str]:
    """Where the player may load a video from: what the server itself downloads from, in CSP source form."""
    origins = [f"https://{FAL_MEDIA_DOMAIN}", f"https://*.{FAL_MEDIA_DOMAIN}"]
    for url in (settings.cdn_url, *settings.download_hosts):
        if not is_fal_media(url) and _origin(url) not in origins:
            origins.append(_origin(url))
    return origins


def player_html() -> str:
    """The view, with the largest video the server serves as a resource (its fallback when the CDN is blocked)."""
    html = files(__package__).joinpath("player.html").read_text(encoding="utf-8")
    return html.replace("__SERVER_COPY_MAX_BYTES__", str(resources.MAX_RESOURCE_VIDEO_BYTES))


def player_extension(settings: Settings) -> Apps:
    apps = Apps()
    apps.add_html_resource(
        PLAYER_URI,
        player_html(),
        name="job-player",
        title="HappyHorse job player",
        description="Shows a video job's progress, then plays its video.",
        csp=ResourceCsp(resource_domains=media_origins(settings)),
        prefers_border=True,
    )
    return apps
