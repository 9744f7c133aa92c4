"""How each kind of setting is read from its text: the value, or a ConfigError that names the variable and the
kind of value it takes (never the value of a secret)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from ..domain.keys import MIN_SEALING_SECRET_LENGTH, odd_characters, wrapped_in_quotes

TRUE = ("1", "true", "yes", "on")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable (`variable`, when it is one)."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


def checked_url(name: str, value: str, example: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL such as {example}, got {value!r}")
    return value.rstrip("/")


def url(default: str) -> dict[str, Any]:
    return {"parse": lambda name, value: checked_url(name, value, default), "default": default}


def number(default: float, *, unit: str, example: str, whole: bool = False) -> dict[str, Any]:
    def parse(name: str, value: str) -> float:
        try:
            number = float(value) if not whole else float(int(value))
        except ValueError:
            number = -1.0
        if not number >= (1 if whole else 0) or number == float("inf"):
            raise ConfigError(f"{name} must be {unit} such as {example}, got {value!r}")
        return int(number) if whole else number

    return {"parse": parse, "default": default}


def usd(default: float) -> dict[str, Any]:
    return number(default, unit="an amount of US dollars", example=f"{default:.2f}")


def count(default: int) -> dict[str, Any]:
    return number(default, unit="a whole number above 0", example=str(default), whole=True)


def folders(name: str, value: str) -> tuple[Path, ...]:
    """Absolute folders. One that does not exist (yet) is kept: the server starts, `check` and the start log say so,
    and a call that needs it is told."""
    folders = []
    for part in value.split(os.pathsep):
        if not part.strip():
            continue
        folder = Path(part.strip()).expanduser()
        if not folder.is_absolute():
            raise ConfigError(f"{name} must list folders by absolute path; {part!r} is not one")
        folders.append(folder.resolve())
    return tuple(folders)


def absolute_folder(name: str, value: str) -> Path:  # also an absolute file: the same rule
    folder = Path(value).expanduser()
    if not folder.is_absolute():
        raise ConfigError(f"{name} must be an absolute path, got {value!r}")
    # Links in the operator's own path (a Movies folder on another disk, macOS's /tmp) are resolved once, here:
    # downloads reach the folder without following any link, so one appearing later is refused.
    return folder.resolve()


def database_url(name: str, value: str) -> SecretStr:
    if not value.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{name} must be a postgresql:// URL (or unset, for SQLite)")
    return SecretStr(value)


def words(name: str, value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def urls(name: str, value: str) -> tuple[str, ...]:
    return tuple(checked_url(name, url, "https://media.example.com") for url in words(name, value))


def flag(name: str, value: str) -> bool:
    return value.lower() in TRUE


def secrets(name: str, value: str) -> tuple[str, ...]:
    """Comma-separated secrets of MIN_SEALING_SECRET_LENGTH characters or more (`openssl rand -base64 32` makes one)."""
    listed = tuple(part.strip() for part in value.split(",") if part.strip())
    if not listed or any(len(secret) < MIN_SEALING_SECRET_LENGTH for secret in listed):
        raise ConfigError(
            f"{name} must be one or more secrets of {MIN_SEALING_SECRET_LENGTH}+ characters, comma-separated "
            "(openssl rand -base64 32)"
        )
    return listed


def text(name: str, value: str) -> str:
    return value


def checked_secret(name: str, value: str) -> SecretStr:
    """A key or token goes into an HTTP header: printable ASCII with no spaces, else it could never work (and a
    curly quote or a line break pasted with it would fail every request), and never wrapped in quotes (a shell or a
    config that quoted it twice). The message never shows the value."""
    if wrapped_in_quotes(value):
        raise ConfigError(
            variable=name.split("+")[0],
            message=f"{name} is wrapped in quotes ({value[0]}...{value[0]}), which became part of the value: a key "
            "never has them. Remove the inner quotes (a JSON config already quotes its strings) and restart.",
        )
    if odd := odd_characters(value):
        raise ConfigError(
            variable=name.split("+")[0],
            message=f"{name} holds characters a key never has ({', '.join(odd[:5])}: curly quotes, spaces or a line "
            "break pasted with it?). Copy it again, plain, from https://fal.ai/dashboard/keys.",
        )
    return SecretStr(value)
