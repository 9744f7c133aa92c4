"""Configuration: every environment variable the server reads is read here, once, and listed once in VARIABLES
(which `--help`, `check` and README's configuration table are made from)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from .domain.budget import DEFAULT_CONFIRM_ABOVE_USD, DEFAULT_DAILY_BUDGET_USD, DEFAULT_MAX_USD_PER_JOB, SpendLimits

DEFAULT_QUEUE_URL = "https://queue.fal.run"
DEFAULT_REST_URL = "https://rest.fal.ai"
DEFAULT_CDN_URL = "https://v3.fal.media"
DEFAULT_MAX_DOWNLOAD_MB = 200
DOWNLOAD_TIMEOUT_SECONDS = 300.0
# One bearer token serves every HTTP client, so the session cap is also the cap per token.
DEFAULT_HTTP_MAX_SESSIONS = 100
DEFAULT_LEASE_SECONDS = 6
# Videos take minutes: hosts polling a task every few seconds learn of the end soon enough.
DEFAULT_TASK_POLL_MS = 5000
DEFAULT_HTTP_SESSION_IDLE_SECONDS = 600

TRUE = ("1", "true", "yes", "on")
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class Variable:
    name: str
    meaning: str


VARIABLES: tuple[Variable, ...] = (
    Variable("FAL_KEY", "fal API key, `key-id:key-secret`. Read from the environment only, never logged."),
    Variable("FAL_KEY_ID", "with FAL_KEY_SECRET, the key in two parts (when FAL_KEY is not set)."),
    Variable("FAL_KEY_SECRET", "see FAL_KEY_ID."),
    Variable("FAL_KEY_FILE", "a file holding the fal key, read when FAL_KEY is not set."),
    Variable(
        "FAL_HOME_DIR",
        "where `fal auth login` keeps its token (default ~/.fal); with no key set, that login signs requests.",
    ),
    Variable("FAL_FORCE_AUTH_BY_USER", "1: use the `fal auth login` token even when a key is set, as fal's SDK does."),
    Variable(
        "HAPPYHORSE_FAL_QUEUE_URL", f"fal queue host (default {DEFAULT_QUEUE_URL}); plain http on loopback works."
    ),
    Variable("HAPPYHORSE_FAL_REST_URL", f"fal REST host (default {DEFAULT_REST_URL})."),
    Variable("HAPPYHORSE_FAL_CDN_URL", f"fal storage host (default {DEFAULT_CDN_URL})."),
    Variable(
        "HAPPYHORSE_DATA_DIR",
        "where job records are kept (default: the platform's user data dir, e.g. ~/.local/share/happyhorse-mcp).",
    ),
    Variable(
        "HAPPYHORSE_DATABASE_URL",
        "postgresql://... to keep jobs in PostgreSQL, shared by server replicas (needs happyhorse-mcp[postgres]); "
        "default: SQLite in the data dir. Never logged.",
    ),
    Variable(
        "HAPPYHORSE_MAX_USD_PER_JOB", f"refuse any job estimated above this (default {DEFAULT_MAX_USD_PER_JOB:.2f})."
    ),
    Variable(
        "HAPPYHORSE_DAILY_BUDGET_USD",
        f"refuse jobs past this spend per UTC day (default {DEFAULT_DAILY_BUDGET_USD:.2f}; 0 refuses every job).",
    ),
    Variable(
        "HAPPYHORSE_CONFIRM_ABOVE_USD",
        f"ask the user to confirm jobs estimated above this (default {DEFAULT_CONFIRM_ABOVE_USD:.2f}).",
    ),
    Variable(
        "HAPPYHORSE_ALLOWED_DIRS",
        f"folders whose files may be uploaded and where save_to may write (absolute, '{os.pathsep}'-separated).",
    ),
    Variable("HAPPYHORSE_OUTPUT_DIR", "download every finished video here (default: only where save_to says)."),
    Variable("HAPPYHORSE_DOWNLOAD_HOSTS", "extra hosts videos may be downloaded from, as URLs (comma-separated)."),
    Variable(
        "HAPPYHORSE_MAX_DOWNLOAD_MB",
        f"largest video downloaded or served as a resource (default {DEFAULT_MAX_DOWNLOAD_MB}).",
    ),
    Variable(
        "HAPPYHORSE_LEASE_SECONDS",
        "how soon another server process on the same store takes over the jobs of one that died "
        f"(default {DEFAULT_LEASE_SECONDS}).",
    ),
    Variable(
        "HAPPYHORSE_TASK_POLL_MS",
        f"how often hosts running a generation as an MCP task are told to poll it, in ms (default "
        f"{DEFAULT_TASK_POLL_MS}).",
    ),
    Variable("HAPPYHORSE_READ_ONLY", "1 offers only read-only tools (as --read-only)."),
    Variable("HAPPYHORSE_HTTP_TOKEN", "http: the bearer token clients must send; required off loopback."),
    Variable(
        "HAPPYHORSE_HTTP_TOKEN_FILE", "http: a file holding that token, read when HAPPYHORSE_HTTP_TOKEN is not set."
    ),
    Variable(
        "HAPPYHORSE_ALLOWED_HOSTS", "http: extra Host values to accept, e.g. mcp.example.com:443 (comma-separated)."
    ),
    Variable(
        "HAPPYHORSE_ALLOWED_ORIGINS",
        "http: extra Origin values to accept, e.g. https://app.example.com (comma-separated).",
    ),
)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _base_url(env: Mapping[str, str], name: str, default: str) -> str:
    return _checked_url(name, env.get(name, "").strip() or default, default)


def _checked_url(name: str, value: str, example: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL such as {example}, got {value!r}")
    return value.rstrip("/")


def _usd(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        usd = float(value)
    except ValueError:
        usd = -1.0
    if not usd >= 0 or usd == float("inf"):
        raise ConfigError(f"{name} must be an amount of US dollars such as {default:.2f}, got {value!r}")
    return usd


def _database_url(env: Mapping[str, str]) -> SecretStr | None:
    value = env.get("HAPPYHORSE_DATABASE_URL", "").strip()
    if not value:
        return None
    if not value.startswith(("postgresql://", "postgres://")):
        raise ConfigError("HAPPYHORSE_DATABASE_URL must be a postgresql:// URL (or unset, for SQLite)")
    return SecretStr(value)


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name} must be a whole number above 0 such as {default}, got {value!r}")
    return int(value)


def _folders(env: Mapping[str, str], name: str) -> tuple[Path, ...]:
    folders = []
    for part in env.get(name, "").split(os.pathsep):
        if not part.strip():
            continue
        folder = Path(part.strip()).expanduser()
        if not folder.is_absolute() or not folder.is_dir():
            raise ConfigError(f"{name} must list existing folders by absolute path; {part!r} is not one")
        folders.append(folder.resolve())
    return tuple(folders)


def _output_dir(env: Mapping[str, str]) -> Path | None:
    value = env.get("HAPPYHORSE_OUTPUT_DIR", "").strip()
    if not value:
        return None
    folder = Path(value).expanduser()
    if not folder.is_absolute():
        raise ConfigError(f"HAPPYHORSE_OUTPUT_DIR must be an absolute path, got {value!r}")
    # Links in the operator's own path (a Movies folder on another disk, macOS's /tmp) are resolved once, here:
    # downloads reach the folder without following any link, so one appearing later is refused.
    return folder.resolve()


def _checked_secret(name: str, value: str) -> SecretStr:
    """A key or token goes into an HTTP header: printable ASCII with no spaces, else it could never work (and a
    curly quote or a line break pasted with it would fail every request). The message never shows the value."""
    if not _TOKEN_CHARS.fullmatch(value):
        odd = sorted(
            {
                repr(c) if not c.isprintable() or c.isspace() else f"'{c}'"
                for c in value
                if not _TOKEN_CHARS.fullmatch(c)
            }
        )
        raise ConfigError(
            f"{name} holds characters a key never has ({', '.join(odd[:5])}: curly quotes, spaces or a line break "
            "pasted with it?). Copy it again, plain, from https://fal.ai/dashboard/keys."
        )
    return SecretStr(value)


def _fal_login_file(env: Mapping[str, str]) -> Path:
    """Where `fal auth login` stores its token: fal_client.auth's layout (a test keeps the two in step)."""
    return Path(env.get("FAL_HOME_DIR", "").strip() or "~/.fal").expanduser() / "auth0_token"


def _credentials(env: Mapping[str, str]) -> tuple[SecretStr | None, str | None, Path | None]:
    """The fal key and the variable it came from, or else the `fal auth login` token file: fal's own order."""
    if env.get("FAL_FORCE_AUTH_BY_USER", "").strip() != "1":
        key, source = _key(env)
        if key is not None:
            return key, source, None
    login = _fal_login_file(env)
    if login.is_file():
        return None, "fal auth login", login
    return None, None, None


def _key(env: Mapping[str, str]) -> tuple[SecretStr | None, str | None]:
    if key := _secret_from(env, "FAL_KEY"):
        source = "FAL_KEY" if env.get("FAL_KEY", "").strip() else "FAL_KEY_FILE"
        return _checked_secret(source, key), source
    key_id, secret = env.get("FAL_KEY_ID", "").strip(), env.get("FAL_KEY_SECRET", "").strip()
    if key_id and secret:
        _checked_secret("FAL_KEY_ID", key_id)
        return _checked_secret("FAL_KEY_SECRET", f"{key_id}:{secret}"), "FAL_KEY_ID+SECRET"
    return None, None


def _secret_from(env: Mapping[str, str], name: str) -> str | None:
    """A secret from `name`, or from the file that `name`_FILE names."""
    if value := env.get(name, "").strip():
        return value
    if path := env.get(f"{name}_FILE", "").strip():
        try:
            return Path(path).expanduser().read_text().strip() or None
        except OSError as exc:
            raise ConfigError(f"{name}_FILE cannot be read ({exc.strerror})") from exc
    return None


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def _default_data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path("happyhorse-mcp", appauthor=False)


@dataclass(frozen=True)
class Settings:
    fal_key: SecretStr | None = field(repr=False)
    queue_url: str = DEFAULT_QUEUE_URL
    rest_url: str = DEFAULT_REST_URL
    cdn_url: str = DEFAULT_CDN_URL
    data_dir: Path = field(default_factory=_default_data_dir)
    limits: SpendLimits = field(default_factory=SpendLimits)
    allowed_dirs: tuple[Path, ...] = ()
    output_dir: Path | None = None
    download_hosts: tuple[str, ...] = ()
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_MB * 1024 * 1024
    read_only: bool = False
    http_token: SecretStr | None = field(default=None, repr=False)
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    database_url: SecretStr | None = field(default=None, repr=False)
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    task_poll_ms: int = DEFAULT_TASK_POLL_MS
    http_max_sessions: int = DEFAULT_HTTP_MAX_SESSIONS
    http_session_idle_seconds: float = DEFAULT_HTTP_SESSION_IDLE_SECONDS
    fal_key_source: str | None = None
    fal_login_file: Path | None = None
    variables_set: tuple[str, ...] = ()

    @property
    def has_fal_credentials(self) -> bool:
        return self.fal_key is not None or self.fal_login_file is not None

    def secrets(self) -> list[str]:
        """Values no log line may show."""
        return [s.get_secret_value() for s in (self.fal_key, self.http_token, self.database_url) if s is not None]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = env.get("HAPPYHORSE_DATA_DIR", "").strip()
        fal_key, fal_key_source, fal_login_file = _credentials(env)
        return cls(
            fal_key=fal_key,
            fal_key_source=fal_key_source,
            fal_login_file=fal_login_file,
            variables_set=tuple(v.name for v in VARIABLES if env.get(v.name, "").strip()),
            queue_url=_base_url(env, "HAPPYHORSE_FAL_QUEUE_URL", DEFAULT_QUEUE_URL),
            rest_url=_base_url(env, "HAPPYHORSE_FAL_REST_URL", DEFAULT_REST_URL),
            cdn_url=_base_url(env, "HAPPYHORSE_FAL_CDN_URL", DEFAULT_CDN_URL),
            data_dir=Path(data_dir).expanduser() if data_dir else _default_data_dir(),
            limits=SpendLimits(
                max_usd_per_job=_usd(env, "HAPPYHORSE_MAX_USD_PER_JOB", DEFAULT_MAX_USD_PER_JOB),
                daily_budget_usd=_usd(env, "HAPPYHORSE_DAILY_BUDGET_USD", DEFAULT_DAILY_BUDGET_USD),
                confirm_above_usd=_usd(env, "HAPPYHORSE_CONFIRM_ABOVE_USD", DEFAULT_CONFIRM_ABOVE_USD),
            ),
            allowed_dirs=_folders(env, "HAPPYHORSE_ALLOWED_DIRS"),
            output_dir=_output_dir(env),
            download_hosts=tuple(
                _checked_url("HAPPYHORSE_DOWNLOAD_HOSTS", u.strip(), "https://media.example.com")
                for u in _list(env, "HAPPYHORSE_DOWNLOAD_HOSTS")
            ),
            max_download_bytes=int(_usd(env, "HAPPYHORSE_MAX_DOWNLOAD_MB", DEFAULT_MAX_DOWNLOAD_MB) * 1024 * 1024),
            read_only=env.get("HAPPYHORSE_READ_ONLY", "").strip().lower() in TRUE,
            http_token=_checked_secret("HAPPYHORSE_HTTP_TOKEN", token)
            if (token := _secret_from(env, "HAPPYHORSE_HTTP_TOKEN"))
            else None,
            database_url=_database_url(env),
            lease_seconds=_count(env, "HAPPYHORSE_LEASE_SECONDS", DEFAULT_LEASE_SECONDS),
            task_poll_ms=_count(env, "HAPPYHORSE_TASK_POLL_MS", DEFAULT_TASK_POLL_MS),
            http_max_sessions=_count(env, "HAPPYHORSE_HTTP_MAX_SESSIONS", DEFAULT_HTTP_MAX_SESSIONS),
            http_session_idle_seconds=_count(
                env, "HAPPYHORSE_HTTP_SESSION_IDLE_SECONDS", DEFAULT_HTTP_SESSION_IDLE_SECONDS
            ),
            allowed_hosts=_list(env, "HAPPYHORSE_ALLOWED_HOSTS"),
            allowed_origins=_list(env, "HAPPYHORSE_ALLOWED_ORIGINS"),
        )
