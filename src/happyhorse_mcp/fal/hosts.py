"""Where fal serves finished videos: the one rule for what is fal's media host (downloads, the player's CSP)."""

from __future__ import annotations

from urllib.parse import urlsplit

FAL_MEDIA_DOMAIN = "fal.media"


def is_fal_media(url: str) -> bool:
    """An https URL on fal.media or one of its subdomains (v3.fal.media and the like)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme == "https" and (host == FAL_MEDIA_DOMAIN or host.endswith("." + FAL_MEDIA_DOMAIN))
