"""Configuration: every environment variable the server reads is listed once in VARIABLES, with its meaning (which
`--help`, `check` and README's configuration table are made from) and its parser; it is read only through that list."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ..domain.budget import DEFAULT_CONFIRM_ABOVE_USD, DEFAULT_DAILY_BUDGET_USD, DEFAULT_MAX_USD_PER_JOB, SpendLimits
from ..domain.catalog import MB
from . import kinds as kinds
from .kinds import ConfigError as ConfigError
from .tokens_file import NamedToken, read_tokens_file

DEFAULT_QUEUE_URL = "https://queue.fal.run"
DEFAULT_REST_URL = "https://rest.fal.ai"
DEFAULT_API_URL = "https://api.fal.ai"
DEFAULT_CDN_URL = "https://v3.fal.media"
DEFAULT_MAX_DOWNLOAD_MB = 200
DOWNLOAD_TIMEOUT_SECONDS = 300.0
DEFAULT_HTTP_MAX_SESSIONS = 100
DEFAULT_LEASE_SECONDS = 6
# Videos take minutes: hosts polling a task every few seconds learn of the end soon enough.
DEFAULT_TASK_POLL_MS = 5000
DEFAULT_HTTP_SESSION_IDLE_SECONDS = 600
# One client (a token from one address) holding more than this is refused new ones; the others are not affected.
DEFAULT_HTTP_SESSIONS_PER_CLIENT = 16
# A listening stream lasts at most this long; a client still there reconnects (SSE's retry), an abandoned one is gone.
DEFAULT_HTTP_STREAM_SECONDS = 300

Parse = Callable[[str, str], Any]  # (the variable's name, its value, stripped and not empty) -> the setting


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, what it means (for --help, check and README), and how it is read.
    `parse` is None for those read together with others (the fal key in its several forms)."""

    name: str
    meaning: str
    parse: Parse | None = None
    default: Any = None


VARIABLES: tuple[Variable, ...] = (
    Variable("FAL_KEY", "fal API key, `key-id:key-secret`. Read from the environment only, never logged."),
    Variable("FAL_KEY_ID", "with FAL_KEY_SECRET, the key in two parts (when FAL_KEY is not set)."),
    Variable("FAL_KEY_SECRET", "see FAL_KEY_ID."),
    Variable("FAL_KEY_FILE", "a file holding the fal key, read when FAL_KEY is not set."),
    Variable(
        "FAL_ADMIN_KEY",
        "optional: an admin key of the same fal account, to read what fal billed for each job (its billing events) "
        "and record it beside the estimate; budgets then count the bill. Sent only to fal's platform API, never "
        "logged.",
        kinds.checked_secret,
    ),
    Variable(
        "FAL_HOME_DIR",
        "where `fal auth login` keeps its token (default ~/.fal); with no key set, that login signs requests.",
        kinds.text,
        "~/.fal",
    ),
    Variable(
        "FAL_FORCE_AUTH_BY_USER",
        "1: use the `fal auth login` token even when a key is set, as fal's SDK does.",
        lambda name, value: value == "1",
        False,
    ),
    Variable(
        "HAPPYHORSE_FAL_QUEUE_URL",
        f"fal queue host (default {DEFAULT_QUEUE_URL}); plain http on loopback works.",
        **kinds.url(DEFAULT_QUEUE_URL),
    ),
    Variable("HAPPYHORSE_FAL_REST_URL", f"fal REST host (default {DEFAULT_REST_URL}).", **kinds.url(DEFAULT_REST_URL)),
    Variable(
        "HAPPYHORSE_FAL_API_URL",
        f"fal platform API host, where a job whose result fal's queue forgot is looked up (default {DEFAULT_API_URL}).",
        **kinds.url(DEFAULT_API_URL),
    ),
    Variable("HAPPYHORSE_FAL_CDN_URL", f"fal storage host (default {DEFAULT_CDN_URL}).", **kinds.url(DEFAULT_CDN_URL)),
    Variable(
        "HAPPYHORSE_DATA_DIR",
        "where job records are kept (default: the platform's user data dir, e.g. ~/.local/share/happyhorse-mcp).",
        lambda name, value: Path(value).expanduser(),
    ),
    Variable(
        "HAPPYHORSE_DATABASE_URL",
        "postgresql://... to keep jobs in PostgreSQL, shared by server replicas (install with the `postgres` extra); "
        "default: SQLite in the data dir. Never logged.",
        kinds.database_url,
    ),
    Variable(
        "HAPPYHORSE_MAX_USD_PER_JOB",
        f"refuse any job estimated above this (default {DEFAULT_MAX_USD_PER_JOB:.2f}).",
        **kinds.usd(DEFAULT_MAX_USD_PER_JOB),
    ),
    Variable(
        "HAPPYHORSE_DAILY_BUDGET_USD",
        f"refuse jobs past this spend per UTC day (default {DEFAULT_DAILY_BUDGET_USD:.2f}; 0 refuses every job).",
        **kinds.usd(DEFAULT_DAILY_BUDGET_USD),
    ),
    Variable(
        "HAPPYHORSE_CONFIRM_ABOVE_USD",
        f"ask the user to confirm jobs estimated above this (default {DEFAULT_CONFIRM_ABOVE_USD:.2f}).",
        **kinds.usd(DEFAULT_CONFIRM_ABOVE_USD),
    ),
    Variable(
        "HAPPYHORSE_ALLOWED_DIRS",
        f"folders whose files may be uploaded and where save_to may write (absolute, '{os.pathsep}'-separated).",
        kinds.folders,
        (),
    ),
    Variable(
        "HAPPYHORSE_OUTPUT_DIR",
        "download every finished video here (default: only where save_to says).",
        kinds.absolute_folder,
    ),
    Variable(
        "HAPPYHORSE_DOWNLOAD_HOSTS",
        "extra hosts videos may be downloaded from, as URLs (comma-separated).",
        kinds.urls,
        (),
    ),
    Variable(
        "HAPPYHORSE_MAX_DOWNLOAD_MB",
        f"largest video downloaded (default {DEFAULT_MAX_DOWNLOAD_MB}).",
        **kinds.number(DEFAULT_MAX_DOWNLOAD_MB, unit="a size in MB", example=str(DEFAULT_MAX_DOWNLOAD_MB)),
    ),
    Variable(
        "HAPPYHORSE_LEASE_SECONDS",
        "how soon another server process on the same store takes over the jobs of one that died "
        f"(default {DEFAULT_LEASE_SECONDS}).",
        **kinds.count(DEFAULT_LEASE_SECONDS),
    ),
    Variable(
        "HAPPYHORSE_TASK_POLL_MS",
        f"how often hosts running a generation as an MCP task are told to poll it, in ms (default "
        f"{DEFAULT_TASK_POLL_MS}).",
        **kinds.count(DEFAULT_TASK_POLL_MS),
    ),
    Variable("HAPPYHORSE_READ_ONLY", "1 offers only read-only tools (as --read-only).", kinds.flag, False),
    Variable(
        "HAPPYHORSE_SANDBOX",
        "1 serves every tool with a stand-in for fal built in (as --sandbox): no key, no network, nothing billed.",
        kinds.flag,
        False,
    ),
    Variable(
        "HAPPYHORSE_LOG_FILE",
        "also write the server's log to this file (appended; for hosts that show no server log), e.g. "
        "~/happyhorse-mcp.log.",
        kinds.absolute_folder,
    ),
    Variable(
        "HAPPYHORSE_USER_DAILY_BUDGET_USD",
        "http with sign-in: each user's own spend per UTC day (default: only the whole server's budget).",
        kinds.usd(0.0)["parse"],
    ),
    Variable(
        "HAPPYHORSE_USER_MAX_JOBS_IN_FLIGHT",
        "http with sign-in: unfinished jobs one user may have at once (default: no limit; fal queues all it gets).",
        kinds.count(1)["parse"],
    ),
    Variable(
        "HAPPYHORSE_USER_KEYS_SECRET",
        "http with sign-in: lets each user give the server their own fal key (their jobs then bill their fal "
        "account), kept sealed under this secret (32+ characters; several comma-separated: the first seals, all "
        "open, for rotation). Never logged.",
        kinds.secrets,
        (),
    ),
    Variable("HAPPYHORSE_HTTP_TOKEN", "http: the bearer token clients must send; required off loopback."),
    Variable(
        "HAPPYHORSE_HTTP_TOKENS_FILE",
        "http: named tokens, one user a line (`name token [scopes]`, or `name sha256:<hex>`): each person their own "
        "jobs and budget. Instead of HAPPYHORSE_HTTP_TOKEN.",
        read_tokens_file,
        (),
    ),
    Variable(
        "HAPPYHORSE_AUTH_ISSUER",
        "http: the OAuth 2.1 / OpenID issuer whose JWT access tokens sign people in (its metadata and keys are read "
        "from it); needs HAPPYHORSE_RESOURCE_URL.",
        lambda name, value: kinds.checked_url(name, value, "https://login.example.com/realms/team"),
    ),
    Variable(
        "HAPPYHORSE_AUTH_CLIENT_ID",
        "http: this server's client id at the issuer, to introspect opaque (non-JWT) access tokens (RFC 7662); "
        "with HAPPYHORSE_AUTH_CLIENT_SECRET.",
        kinds.text,
    ),
    Variable("HAPPYHORSE_AUTH_CLIENT_SECRET", "http: see HAPPYHORSE_AUTH_CLIENT_ID. Never logged.", kinds.text),
    Variable(
        "HAPPYHORSE_RESOURCE_URL",
        "http: this server's public MCP URL, e.g. https://mcp.example.com/mcp: the audience its tokens must carry.",
        lambda name, value: kinds.checked_url(name, value, "https://mcp.example.com/mcp"),
    ),
    Variable(
        "HAPPYHORSE_HTTP_TOKEN_FILE", "http: a file holding that token, read when HAPPYHORSE_HTTP_TOKEN is not set."
    ),
    Variable(
        "HAPPYHORSE_ALLOWED_HOSTS",
        "http: extra Host values to accept, e.g. mcp.example.com:443 (comma-separated).",
        kinds.words,
        (),
    ),
    Variable(
        "HAPPYHORSE_ALLOWED_ORIGINS",
        "http: extra Origin values to accept, e.g. https://app.example.com (comma-separated).",
        kinds.words,
        (),
    ),
    Variable(
        "HAPPYHORSE_HTTP_MAX_SESSIONS",
        f"http: sessions open at once, all clients together (default {DEFAULT_HTTP_MAX_SESSIONS}).",
        **kinds.count(DEFAULT_HTTP_MAX_SESSIONS),
    ),
    Variable(
        "HAPPYHORSE_HTTP_SESSIONS_PER_CLIENT",
        "http: sessions one client (one token from one address) may hold open "
        f"(default {DEFAULT_HTTP_SESSIONS_PER_CLIENT}).",
        **kinds.count(DEFAULT_HTTP_SESSIONS_PER_CLIENT),
    ),
    Variable(
        "HAPPYHORSE_HTTP_SESSION_IDLE_SECONDS",
        f"http: a session with no request for this long is closed (default {DEFAULT_HTTP_SESSION_IDLE_SECONDS}).",
        **kinds.count(DEFAULT_HTTP_SESSION_IDLE_SECONDS),
    ),
    Variable(
        "HAPPYHORSE_HTTP_STREAM_SECONDS",
        "http: a client's listening (GET) stream is closed after this long and the client reconnects, so a stream "
        f"nobody reads cannot keep a session alive (default {DEFAULT_HTTP_STREAM_SECONDS}).",
        **kinds.count(DEFAULT_HTTP_STREAM_SECONDS),
    ),
)
_BY_NAME = {variable.name: variable for variable in VARIABLES}


class Environment:
    """The environment as the server reads it: only through VARIABLES, so no variable is read without being listed
    (and so shown by --help, `check` and README)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def raw(self, name: str) -> str:
        if name not in _BY_NAME:
            raise KeyError(f"{name} is read but not listed in VARIABLES")
        return self._env.get(name, "").strip()

    def __getitem__(self, name: str) -> Any:
        variable = _BY_NAME[name]
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
