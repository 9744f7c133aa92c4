"""Every environment variable the server reads, listed once with its meaning (which `--help`, `check` and README's
configuration table are made from) and its parser. Settings (settings.py) reads the environment only through it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..domain.budget import DEFAULT_CONFIRM_ABOVE_USD, DEFAULT_DAILY_BUDGET_USD, DEFAULT_MAX_USD_PER_JOB
from . import kinds as kinds
from .tokens_file import read_tokens_file

DEFAULT_QUEUE_URL = "https://queue.fal.run"
DEFAULT_REST_URL = "https://rest.fal.ai"
DEFAULT_API_URL = "https://api.fal.ai"
DEFAULT_CDN_URL = "https://v3.fal.media"
DEFAULT_JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"
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
    Variable(
        "HAPPYHORSE_WEBHOOK_URL",
        "http: this deployment's public base URL as fal reaches it, e.g. https://mcp.example.com: each submit then "
        "asks fal to post the job's end to <base>/fal/webhook/<the job's own secret>, verified by fal's signature, "
        "so no status stream is held open per job (the status is still read, rarely, as a backstop).",
        lambda name, value: kinds.checked_url(name, value, "https://mcp.example.com"),
    ),
    Variable(
        "HAPPYHORSE_FAL_JWKS_URL",
        f"where fal's webhook signing keys are read (default {DEFAULT_JWKS_URL}).",
        **kinds.url(DEFAULT_JWKS_URL),
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
BY_NAME = {variable.name: variable for variable in VARIABLES}
