"""Named static tokens (HAPPYHORSE_HTTP_TOKENS_FILE), for teams without an identity provider: one user a line,

    alice  3f9c...a token of 20 or more characters...
    bob    sha256:<64 hex digits of the token's SHA-256>      happyhorse:read

a name, the token (or its SHA-256, so the file need not hold it), and optionally the scopes granted (default both:
happyhorse:read and happyhorse:generate). Blank lines and lines starting with # are skipped. Tokens are kept only
as digests and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

from ..domain.principal import LOCAL_USER, SCOPES
from .kinds import ConfigError

MIN_TOKEN_LENGTH = 20
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_DIGEST = re.compile(r"sha256:([0-9a-fA-F]{64})")


@dataclass(frozen=True)
class NamedToken:
    user: str
    digest: bytes
    scopes: tuple[str, ...] = SCOPES


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def read_tokens_file(name: str, value: str) -> tuple[NamedToken, ...]:
    """The users of the tokens file `value` (named by the variable `name`), each line checked."""
    path = Path(value).expanduser()
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{name}: {path} cannot be read ({exc.strerror})") from exc
    tokens: list[NamedToken] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        where = f"{name}: line {number} of {path}"
        if len(words) < 2:
            raise ConfigError(f"{where} has a name but no token (write: name token [scopes])")
        user, secret, *scopes = words
        if not _NAME.fullmatch(user) or user == LOCAL_USER:
            raise ConfigError(
                f"{where}: {user!r} is not a usable name (letters, digits, . _ @ -; up to 64; not {LOCAL_USER!r})"
            )
        if unknown := [s for s in scopes if s not in SCOPES]:
            raise ConfigError(f"{where}: unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
        if hashed := _DIGEST.fullmatch(secret):
            key = bytes.fromhex(hashed.group(1))
        elif len(secret) < MIN_TOKEN_LENGTH or secret.startswith("sha256:"):
            raise ConfigError(
                f"{where}: the token for {user} is too short or malformed: use {MIN_TOKEN_LENGTH} or more characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) or sha256:<64 hex digits>"
            )
        else:
            key = digest(secret)
        if any(t.user == user for t in tokens):
            raise ConfigError(f"{where}: {user} is named twice")
        if any(hmac.compare_digest(t.digest, key) for t in tokens):
            raise ConfigError(f"{where}: {user}'s token is also another user's")
        tokens.append(NamedToken(user, key, tuple(scopes) or SCOPES))
    if not tokens:
        raise ConfigError(f"{name}: {path} names no user (one a line: name token [scopes])")
    return tuple(tokens)
