"""What a fal key (or any bearer secret) can be. It travels in an HTTP header, so it is printable ASCII with no
spaces, and a key pasted with a curly quote or a line break could never work. Pure: the settings (FAL_KEY and the
tokens) and the page where a person enters their own key apply the same rules."""

from __future__ import annotations

import re

HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
KEYS_PAGE = "https://fal.ai/dashboard/keys"
# The shortest secret that seals users' own keys (HAPPYHORSE_USER_KEYS_SECRET): 256 bits in base64.
MIN_SEALING_SECRET_LENGTH = 32


def placeholder_key(value: str) -> bool:
    """Whether a key is still the example's placeholder (README, examples/: `your-fal-key-id:your-fal-key-secret`)."""
    return value.lower().startswith("your-")


def wrapped_in_quotes(value: str) -> bool:
    return len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'"


def odd_characters(value: str) -> list[str]:
    """The characters of `value` no key has, shown safely (a space or a line break by its repr), sorted."""
    return sorted(
        {repr(c) if not c.isprintable() or c.isspace() else f"'{c}'" for c in value if not HEADER_SAFE.fullmatch(c)}
    )


def fal_key_problem(value: str) -> str | None:
    """Why `value` cannot be a fal key (`key-id:key-secret`), in words that never show it; None when it can be."""
    if wrapped_in_quotes(value):
        return "it is wrapped in quotes, which a key never has"
    if odd := odd_characters(value):
        return (
            f"it holds characters a key never has ({', '.join(odd[:5])}: curly quotes, spaces or a line break "
            "pasted with it?)"
        )
    key_id, _, secret = value.partition(":")
    if not key_id or not secret:
        return "it is malformed: a fal key is key-id:key-secret, with a ':' between the two"
    if placeholder_key(value):
        return "it is still the example's placeholder (your-...), not a key"
    return None
