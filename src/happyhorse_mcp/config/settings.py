"""The settings a process runs with, read from the environment only through the registry of variables
(variables.py), so none is read without being listed (and shown by --help, `check` and README)."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ..domain.budget import SpendLimits
from ..domain.catalog import MB
from . import kinds as kinds
from .kinds import ConfigError as ConfigError
from .tokens_file import NamedToken
from .variables import (
    BY_NAME,
    DEFAULT_API_URL,
    DEFAULT_CDN_URL,
    DEFAULT_HTTP_MAX_SESSIONS,
    DEFAULT_HTTP_SESSION_IDLE_SECONDS,
    DEFAULT_HTTP_SESSIONS_PER_CLIENT,
    DEFAULT_HTTP_STREAM_SECONDS,
    DEFAULT_JWKS_URL,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_DOWNLOAD_MB,
    DEFAULT_QUEUE_URL,
    DEFAULT_REST_URL,
    DEFAULT_TASK_POLL_MS,
    DOWNLOAD_TIMEOUT_SECONDS,
    VARIABLES,
    Variable,
)

__all__ = ["DOWNLOAD_TIMEOUT_SECONDS", "VARIABLES", "ConfigError", "Settings", "Variable", "unknown_settings"]


class Environment:
    """The environment as the server reads it: only through VARIABLES, so no variable is read without being listed
    (and so shown by --help, `check` and README)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def raw(self, name: str) -> str:
        if name not in BY_NAME:
            raise KeyError(f"{name} is read but not listed in VARIABLES")
        return self._env.get(name, "").strip()

    def __getitem__(self, name: str) -> Any:
        variable = BY_NAME[name]
        assert variable.parse is not None, f"{name} is read with others, not on its own"
        value = self.raw(name)
        try:
            return variable.parse(name, value) if value else variable.default
        except ConfigError as exc:
            exc.variable = name
            raise

    def set(self) -> tuple[str, ...]:
        return tuple(v.name for v in VARIABLES if self.raw(v.name))


def _fal_login_file(env: Environment) -> Path:
    """Where `fal auth login` stores its token: fal_client.auth's layout (a test keeps the two in step)."""
    return Path(env["FAL_HOME_DIR"]).expanduser() / "auth0_token"


def _credentials(env: Environment) -> tuple[SecretStr | None, str | None, Path | None]:
    """The fal key and the variable it came from, or else the `fal auth login` token file: fal's own order."""
    if not env["FAL_FORCE_AUTH_BY_USER"]:
        key, source = _key(env)
        if key is not None:
            return key, source, None
    login = _fal_login_file(env)
    if login.is_file():
        return None, "fal auth login", login
    return None, None, None


def _key(env: Environment) -> tuple[SecretStr | None, str | None]:
    if key := _secret_from(env, "FAL_KEY"):
        source = "FAL_KEY" if env.raw("FAL_KEY") else "FAL_KEY_FILE"
        return kinds.checked_secret(source, key), source
    key_id, secret = env.raw("FAL_KEY_ID"), env.raw("FAL_KEY_SECRET")
    if key_id and secret:
        kinds.checked_secret("FAL_KEY_ID", key_id)
        return kinds.checked_secret("FAL_KEY_SECRET", f"{key_id}:{secret}"), "FAL_KEY_ID+SECRET"
    return None, None


def _secret_from(env: Environment, name: str) -> str | None:
    """A secret from `name`, or from the file that `name`_FILE names."""
    if value := env.raw(name):
        return value
    if path := env.raw(f"{name}_FILE"):
        try:
            return Path(path).expanduser().read_text().strip() or None
        except OSError as exc:
            raise ConfigError(f"{name}_FILE cannot be read ({exc.strerror})") from exc
    return None


def _auth_client(env: Environment) -> tuple[str, str] | None:
    client_id, secret = env["HAPPYHORSE_AUTH_CLIENT_ID"], env["HAPPYHORSE_AUTH_CLIENT_SECRET"]
    if bool(client_id) != bool(secret):
        raise ConfigError(
            "HAPPYHORSE_AUTH_CLIENT_ID and HAPPYHORSE_AUTH_CLIENT_SECRET go together: set both or neither"
        )
    return (client_id, secret) if client_id and secret else None


def _default_data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path("happyhorse-mcp", appauthor=False)


@dataclass(frozen=True)
class HttpSettings:
    """Serving over HTTP beyond its address: who may call (one token, named tokens or an issuer's access tokens),
    from which Hosts and Origins, and how many sessions. transport/http.py's HttpOptions adds the address."""

    token: str | None = field(default=None, repr=False)
    # Sign-in, instead of the one shared token: named tokens, or an authorization server's JWTs for this resource.
    tokens: tuple[NamedToken, ...] = field(default=(), repr=False)
    auth_issuer: str | None = None
    resource_url: str | None = None
    auth_client: tuple[str, str] | None = field(default=None, repr=False)
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    max_sessions: int = DEFAULT_HTTP_MAX_SESSIONS
    sessions_per_client: int = DEFAULT_HTTP_SESSIONS_PER_CLIENT
    session_idle_seconds: float = DEFAULT_HTTP_SESSION_IDLE_SECONDS
    stream_seconds: float = DEFAULT_HTTP_STREAM_SECONDS

    @property
    def signs_in(self) -> bool:
        """Whether each request names its user (named tokens or an authorization server)."""
        return bool(self.tokens or self.auth_issuer)

    @classmethod
    def from_env(cls, env: Environment) -> HttpSettings:
        token = _secret_from(env, "HAPPYHORSE_HTTP_TOKEN")
        return cls(
            token=kinds.checked_secret("HAPPYHORSE_HTTP_TOKEN", token).get_secret_value() if token else None,
            tokens=env["HAPPYHORSE_HTTP_TOKENS_FILE"],
            auth_issuer=env["HAPPYHORSE_AUTH_ISSUER"],
            resource_url=env["HAPPYHORSE_RESOURCE_URL"],
            auth_client=_auth_client(env),
            allowed_hosts=env["HAPPYHORSE_ALLOWED_HOSTS"],
            allowed_origins=env["HAPPYHORSE_ALLOWED_ORIGINS"],
            max_sessions=env["HAPPYHORSE_HTTP_MAX_SESSIONS"],
            sessions_per_client=env["HAPPYHORSE_HTTP_SESSIONS_PER_CLIENT"],
            session_idle_seconds=env["HAPPYHORSE_HTTP_SESSION_IDLE_SECONDS"],
            stream_seconds=env["HAPPYHORSE_HTTP_STREAM_SECONDS"],
        )


@dataclass(frozen=True)
class Settings:
    fal_key: SecretStr | None = field(repr=False)
    fal_admin_key: SecretStr | None = field(default=None, repr=False)
    queue_url: str = DEFAULT_QUEUE_URL
    rest_url: str = DEFAULT_REST_URL
    api_url: str = DEFAULT_API_URL
    cdn_url: str = DEFAULT_CDN_URL
    webhook_url: str | None = None
    jwks_url: str = DEFAULT_JWKS_URL
    data_dir: Path = field(default_factory=_default_data_dir)
    limits: SpendLimits = field(default_factory=SpendLimits)
    allowed_dirs: tuple[Path, ...] = ()
    output_dir: Path | None = None
    download_hosts: tuple[str, ...] = ()
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_MB * 1024 * 1024
    read_only: bool = False
    sandbox: bool = False
    http: HttpSettings = field(default_factory=HttpSettings)
    user_keys_secrets: tuple[str, ...] = field(default=(), repr=False)
    database_url: SecretStr | None = field(default=None, repr=False)
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    task_poll_ms: int = DEFAULT_TASK_POLL_MS
    log_file: Path | None = None
    fal_key_source: str | None = None
    fal_login_file: Path | None = None
    variables_set: tuple[str, ...] = ()

    @property
    def has_fal_credentials(self) -> bool:
        return self.fal_key is not None or self.fal_login_file is not None

    def secrets(self) -> list[str]:
        """Values no log line may show."""
        kept = [s.get_secret_value() for s in (self.fal_key, self.fal_admin_key, self.database_url) if s is not None]
        http = [*([self.http.token] if self.http.token else []), *(self.http.auth_client or ())[1:]]
        return [*kept, *http, *self.user_keys_secrets]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = Environment(os.environ if environ is None else environ)
        fal_key, fal_key_source, fal_login_file = _credentials(env)
        return cls(
            fal_key=fal_key,
            fal_admin_key=env["FAL_ADMIN_KEY"],
            fal_key_source=fal_key_source,
            fal_login_file=fal_login_file,
            variables_set=env.set(),
            queue_url=env["HAPPYHORSE_FAL_QUEUE_URL"],
            rest_url=env["HAPPYHORSE_FAL_REST_URL"],
            api_url=env["HAPPYHORSE_FAL_API_URL"],
            cdn_url=env["HAPPYHORSE_FAL_CDN_URL"],
            webhook_url=env["HAPPYHORSE_WEBHOOK_URL"],
            jwks_url=env["HAPPYHORSE_FAL_JWKS_URL"],
            data_dir=env["HAPPYHORSE_DATA_DIR"] or _default_data_dir(),
            limits=SpendLimits(
                max_usd_per_job=env["HAPPYHORSE_MAX_USD_PER_JOB"],
                daily_budget_usd=env["HAPPYHORSE_DAILY_BUDGET_USD"],
                confirm_above_usd=env["HAPPYHORSE_CONFIRM_ABOVE_USD"],
                user_daily_budget_usd=env["HAPPYHORSE_USER_DAILY_BUDGET_USD"],
                user_max_jobs_in_flight=env["HAPPYHORSE_USER_MAX_JOBS_IN_FLIGHT"],
            ),
            allowed_dirs=env["HAPPYHORSE_ALLOWED_DIRS"],
            output_dir=env["HAPPYHORSE_OUTPUT_DIR"],
            download_hosts=env["HAPPYHORSE_DOWNLOAD_HOSTS"],
            max_download_bytes=int(env["HAPPYHORSE_MAX_DOWNLOAD_MB"] * MB),
            read_only=env["HAPPYHORSE_READ_ONLY"],
            sandbox=env["HAPPYHORSE_SANDBOX"],
            log_file=env["HAPPYHORSE_LOG_FILE"],
            http=HttpSettings.from_env(env),
            user_keys_secrets=env["HAPPYHORSE_USER_KEYS_SECRET"],
            database_url=env["HAPPYHORSE_DATABASE_URL"],
            lease_seconds=env["HAPPYHORSE_LEASE_SECONDS"],
            task_poll_ms=env["HAPPYHORSE_TASK_POLL_MS"],
        )

    @property
    def missing_folders(self) -> list[Path]:
        """Allowed folders that do not exist (yet): said at start and in `check`, and to a call that needs one."""
        return [folder for folder in self.allowed_dirs if not folder.is_dir()]


# Names the project's own test scripts set around the server: theirs, not settings of it.
TEST_HARNESS_NAMES = ("HAPPYHORSE_BROWSER_TESTS", "HAPPYHORSE_REQUIRE_POSTGRES", "HAPPYHORSE_TEST_DATABASE_URL")


def unknown_settings(environ: Mapping[str, str]) -> list[str]:
    """Each name in `environ` that looks like a setting of this server but is none, with the nearest known name:
    a mistyped setting would otherwise be silently ignored (a spend cap of USD 1 left at the default USD 30). Every
    HAPPYHORSE_ name counts; a FAL_ name only when it is close to one of ours (fal's own tools read others)."""
    known = [variable.name for variable in VARIABLES]
    ours = [name for name in known if name.startswith("FAL_")]
    said = []
    for name in sorted(environ):
        if name in known or name in TEST_HARNESS_NAMES:
            continue
        if name.startswith("HAPPYHORSE_"):
            near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        elif name.startswith("FAL_"):
            near = difflib.get_close_matches(name, ours, n=1, cutoff=0.8)
            if not near:
                continue
        else:
            continue
        guess = f"did you mean {near[0]}?" if near else "see `happyhorse-mcp --help` for the settings there are"
        said.append(f"{name} is not a setting of this server, so it is ignored: {guess}")
    return said
