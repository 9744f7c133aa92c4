"""`happyhorse-mcp check`: the configuration in force and whether fal answers, without spending anything."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from .. import __version__
from ..config import ConfigError, Settings, unknown_settings
from ..domain.budget import NEEDS_ADMIN_KEY
from ..domain.catalog import PRICES_AS_OF
from ..domain.keys import KEYS_PAGE, fal_key_problem
from ..files.localfiles import cannot_write

PROBE_REQUEST_ID = "00000000-0000-0000-0000-000000000000"


def _key_line(settings: Settings) -> tuple[str, bool]:
    if settings.sandbox:
        if settings.fal_key is not None:
            return (
                f"set ({settings.fal_key_source}) beside HAPPYHORSE_SANDBOX=1: the server refuses to start so; unset "
                "one of the two",
                False,
            )
        return "not needed: the sandbox (HAPPYHORSE_SANDBOX=1) serves every tool with a stand-in for fal", True
    if settings.fal_login_file is not None:
        return f"the `fal auth login` token in {settings.fal_login_file} (no key set; fal-client refreshes it)", True
    if settings.fal_key is None:
        return (
            "missing: set FAL_KEY (key-id:key-secret) from https://fal.ai/dashboard/keys, or run `fal auth login`",
            False,
        )
    source = settings.fal_key_source
    key = settings.fal_key.get_secret_value()
    if (problem := fal_key_problem(key)) is not None:
        return f"set ({source}) but {problem}: put your own key from {KEYS_PAGE} in its place", False
    key_id = key.partition(":")[0]
    return f"set ({source}), well formed, id {key_id[:4]}... (secret redacted)", True


def _probe(settings: Settings) -> tuple[str, bool]:
    """Ask fal for the status of a request that cannot exist: 404 means fal answered and took the key."""
    import anyio
    import httpx

    from ..config.tls import tls_context
    from ..domain.errors import HappyHorseError
    from ..fal.credentials import credentials_for

    credentials = credentials_for(settings)
    assert credentials is not None
    try:
        authorization = anyio.run(credentials.authorization)
    except HappyHorseError as exc:
        return exc.message, False
    url = f"{settings.queue_url}/alibaba/happy-horse/requests/{PROBE_REQUEST_ID}/status"
    try:
        response = httpx.get(url, headers={"Authorization": authorization}, timeout=10.0, verify=tls_context())
    except httpx.HTTPError as exc:
        return f"no answer from {settings.queue_url} ({type(exc).__name__})", False
    if response.status_code in (401, 403):
        return f"fal refused the key (HTTP {response.status_code}): {response.text[:200]}", False
    if response.status_code in (200, 202, 404):
        # fal may answer some requests without a key, so a 404 proves only that the key was not refused.
        return (
            f"fal answered (HTTP {response.status_code} for a request that does not exist) and did not refuse the "
            "key; the first job proves it",
            True,
        )
    return f"fal answered HTTP {response.status_code}: {response.text[:200]}", False


def _prices(settings: Settings) -> str:
    """Which prices are in force: the dated table, or fal's live price where fal charges more (read as a start does)."""
    from decimal import Decimal

    import anyio

    from ..domain.errors import HappyHorseError
    from ..domain.pricing import table_unit_prices
    from ..fal.credentials import credentials_for
    from ..fal.queue import FalQueue, default_http_client
    from ..jobs.prices import raised_prices

    table = table_unit_prices()

    async def read() -> dict[str, Decimal]:
        async with default_http_client() as http:
            fal = FalQueue(
                http, queue_url=settings.queue_url, credentials=credentials_for(settings), api_url=settings.api_url
            )
            return raised_prices(await fal.unit_prices(sorted(table)), table)

    try:
        raised = anyio.run(read)
    except HappyHorseError as exc:
        return f"the table as of {PRICES_AS_OF}: fal's live prices could not be read ({exc.message})"
    if not raised:
        return f"the table as of {PRICES_AS_OF}; fal's live prices read, none above it"
    above = ", ".join(f"{endpoint} x{float(factor):.2f}" for endpoint, factor in sorted(raised.items()))
    return f"fal's live price where it charges more than the table ({PRICES_AS_OF}): {above}"


# Claude Code's configs: Claude Code runs in the shell and passes its whole environment on to the servers it starts.
SHELL_HOST_CONFIGS = (".claude.json", ".mcp.json")


def host_environment(config: Path) -> dict[str, str]:
    """The environment a host starts the server with, from its config file: the happyhorse entry's `env` (`${VAR}`
    expanded from this shell, as hosts do) over this shell's variables. A host started from the shell (Claude Code)
    passes them all on; any other (Claude Desktop, started from the desktop) sees none of this shell's FAL_ or
    HAPPYHORSE_ ones."""
    try:
        data = json.loads(config.expanduser().read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--config: {config} cannot be read as JSON ({exc})") from exc
    servers = (data.get("mcpServers") or data.get("servers") or {}) if isinstance(data, dict) else {}
    entry = servers.get("happyhorse")
    if not isinstance(entry, dict):
        raise ConfigError(f"--config: {config} has no happyhorse entry under mcpServers (or servers)")
    inherits_shell = config.name in SHELL_HOST_CONFIGS
    env = {
        name: value
        for name, value in os.environ.items()
        if inherits_shell or not name.startswith(("FAL_", "HAPPYHORSE_"))
    }
    for name, value in (entry.get("env") or {}).items():
        env[name] = re.sub(r"\$\{(\w+)\}", lambda m: os.environ.get(m.group(1), ""), str(value))
    return env


def check_command(*, offline: bool, config: Path | None) -> int:
    """`check`: every setting that can be read, and each that cannot, named; never stops at the first."""
    try:
        env = host_environment(config) if config is not None else dict(os.environ)
    except ConfigError as exc:
        sys.stderr.write(f"happyhorse-mcp: {exc}\n")
        return 2
    problems: list[str] = []
    while True:
        try:
            settings = Settings.from_env(env)
            break
        except ConfigError as exc:
            if exc.variable is None or exc.variable not in env:
                sys.stderr.write(f"happyhorse-mcp: {exc}\n")
                return 2
            problems.append(str(exc))
            env = {name: value for name, value in env.items() if name != exc.variable}
    return run_check(settings, offline=offline, problems=problems, unknown=unknown_settings(env))


def sign_in_summary(settings: Settings) -> str:
    """Who the HTTP server's users are (the issuer is not contacted by check)."""
    http = settings.http
    if http.tokens:
        said = f"named tokens for {len(http.tokens)} user(s), each with their own jobs and budget"
    elif http.auth_issuer:
        said = f"access tokens of {http.auth_issuer} for {http.resource_url or '(HAPPYHORSE_RESOURCE_URL unset)'}"
    elif http.token:
        return "one shared token: everyone who holds it is one user"
    else:
        return "none: one local user (stdio, or HTTP on loopback)"
    return said + ("; users may give their own fal key" if settings.user_keys_secrets else "")


def _per_user(settings: Settings) -> str:
    limits = settings.limits
    parts = []
    if limits.user_daily_budget_usd is not None:
        parts.append(f"USD {limits.user_daily_budget_usd:.2f} per user per UTC day")
    if limits.user_max_jobs_in_flight is not None:
        parts.append(f"{limits.user_max_jobs_in_flight} unfinished job(s) per user")
    return "; " + ", ".join(parts) if parts else ""


def run_check(
    settings: Settings, *, offline: bool = False, problems: list[str] | None = None, unknown: list[str] | None = None
) -> int:
    key_text, key_ok = _key_line(settings)
    writable = os.access(settings.data_dir if settings.data_dir.exists() else settings.data_dir.parent, os.W_OK)
    output_problem = cannot_write(settings.output_dir) if settings.output_dir else None
    missing = settings.missing_folders
    limits = settings.limits
    rows = [
        ("fal key", key_text),
        ("queue host", settings.queue_url),
        ("storage hosts", ", ".join(dict.fromkeys([settings.rest_url, settings.cdn_url]))),
        ("data dir", f"{settings.data_dir} ({'writable' if writable else 'NOT writable'})"),
        (
            "job store",
            "PostgreSQL (HAPPYHORSE_DATABASE_URL, not contacted by check)"
            if settings.database_url
            else f"SQLite, {settings.data_dir / 'jobs.sqlite3'}",
        ),
        (
            "downloads",
            (f"{settings.output_dir} (NOT usable: {output_problem})" if output_problem else str(settings.output_dir))
            if settings.output_dir
            else "only where a call's save_to says",
        ),
        (
            "allowed folders",
            ", ".join(f"{folder}{' (does not exist)' if folder in missing else ''}" for folder in settings.allowed_dirs)
            or "none (plus the client's roots)",
        ),
        (
            "spend limits",
            f"USD {limits.max_usd_per_job:.2f} per job, USD {limits.daily_budget_usd:.2f} per UTC day, "
            f"confirm above USD {limits.confirm_above_usd:.2f}" + _per_user(settings),
        ),
        ("sign-in (http)", sign_in_summary(settings)),
        (
            "billed cost",
            "read from fal's billing events with FAL_ADMIN_KEY, beside each estimate"
            if settings.fal_admin_key
            else f"{NEEDS_ADMIN_KEY} (FAL_ADMIN_KEY); jobs keep their estimates",
        ),
        (
            "job endings",
            f"fal's signed webhooks to {settings.webhook_url}/fal/webhook/... when served over HTTP (keys: "
            f"{settings.jwks_url}); the status stream on stdio"
            if settings.webhook_url
            else "each job's status stream (HAPPYHORSE_WEBHOOK_URL: fal posts them instead, over HTTP)",
        ),
        ("variables set", ", ".join(settings.variables_set) or "none (every setting at its default)"),
    ]
    reachable = True
    if offline:
        rows.append(("fal", "not contacted (--offline)"))
        rows.append(("prices", f"the table as of {PRICES_AS_OF} (fal's live prices not read: --offline)"))
    elif settings.sandbox:
        rows.append(("fal", "not contacted: the sandbox's stand-in answers inside the server (docs/sandbox.md)"))
    elif key_ok:
        probe_text, reachable = _probe(settings)
        rows.append(("fal", probe_text))
        if reachable:
            rows.append(("prices", _prices(settings)))
    rows += [("NOT usable", problem + " (its default is shown above)") for problem in problems or []]
    rows += [("NOT a setting", said) for said in unknown or []]
    ready = key_ok and reachable and writable and output_problem is None and not problems and not unknown
    lines = [f"happyhorse-mcp {__version__}", *(f"  {label + ':':<17}{value}" for label, value in rows)]
    lines.append(f"verdict: {'ready' if ready else 'NOT ready: fix the lines above'}")
    sys.stdout.write("\n".join(lines) + "\n")  # `check` is a command, not the stdio server: stdout is the user's
    return 0 if ready else 1
