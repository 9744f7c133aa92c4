"""`happyhorse-mcp`: start the server. Logs go to stderr; stdout carries only the protocol."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import __version__
from ..config import VARIABLES, ConfigError, Settings, unknown_settings
from ..domain.keys import KEYS_PAGE, fal_key_problem

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The tools annotated read-only, named here for --help without building a server (a test keeps the two in step).
READ_ONLY_TOOLS = ("estimate_cost", "get_job", "list_jobs", "review_video")


# A live link to the key page (transport/key_page.py) is a bearer capability: it sets the key someone's videos
# are billed to.
KEY_PAGE_LINK = re.compile(r"/keys/[A-Za-z0-9_-]{20,}")


class RedactingFilter(logging.Filter):
    """Defence in depth: no log line may carry a secret, whatever logged it."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = self._redacted(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            # A traceback quotes exception texts, which may hold a header: format it here, redacted.
            record.exc_text = self._redacted(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self._redacted(record.exc_text)
        return True

    def _redacted(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return KEY_PAGE_LINK.sub("/keys/[link]", text)


def build_parser() -> argparse.ArgumentParser:
    env_help = "\n".join(f"  {v.name:<30} {v.meaning}" for v in VARIABLES)
    parser = argparse.ArgumentParser(
        prog="happyhorse-mcp",
        description="MCP server for HappyHorse-1.0 video generation on fal.",
        epilog=f"environment variables:\n{env_help}\n\nThe fal key is read from the environment only, never from "
        "an option.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["serve", "check"],
        default="serve",
        help="serve (default) runs the server; check prints the configuration and asks fal if it answers",
    )
    parser.add_argument("--offline", action="store_true", help="check: do not contact fal")
    parser.add_argument(
        "--config",
        type=Path,
        help="check: run with the environment a host config file gives the server (its happyhorse entry's env), "
        "e.g. ~/Library/Application Support/Claude/claude_desktop_config.json",
    )
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="default: stdio")
    parser.add_argument("--host", default="127.0.0.1", help="http: address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="http: port (default 8000)")
    parser.add_argument(
        "--stateless",
        action="store_true",
        help="http: no sessions, for several replicas behind a load balancer (sharing one PostgreSQL: "
        "HAPPYHORSE_DATABASE_URL)",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help=f"offer only read-only tools: {', '.join(READ_ONLY_TOOLS)} (or HAPPYHORSE_READ_ONLY=1)",
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="try every tool without a key: a stand-in for fal built in, no network, nothing billed (or "
        "HAPPYHORSE_SANDBOX=1)",
    )
    parser.add_argument("--tools", help="comma-separated tool names to offer, e.g. estimate_cost,generate_video")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="INFO", type=str.upper, help="stderr log level")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def configure_logging(level: str, secrets: Sequence[str], log_file: Path | None = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            sys.stderr.write(f"happyhorse-mcp: HAPPYHORSE_LOG_FILE {log_file} cannot be written ({exc.strerror})\n")
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter(secrets))
    logging.basicConfig(level=level, handlers=handlers, force=True)
    # httpx logs every request at INFO; keep that for DEBUG.
    logging.getLogger("httpx").setLevel(max(logging.getLevelName(level), logging.WARNING))


def log_start(settings: Settings) -> None:
    """What the log says as the server starts: where its data is, and each setting that will not work as meant
    (named by its variable, never by its value)."""
    logger = logging.getLogger(__name__)
    logger.info("happyhorse-mcp %s starting (pid %d), data in %s", __version__, os.getpid(), settings.data_dir)
    if settings.sandbox:
        logger.warning(
            "SANDBOX: every tool is served by a stand-in for fal built into this server (test cards, not HappyHorse; "
            "no key, no network, nothing billed). Its jobs are kept in %s, apart from real ones",
            settings.data_dir,
        )
    elif settings.fal_login_file is not None:
        logger.info("no fal key set: requests are signed with the `fal auth login` token (%s)", settings.fal_login_file)
    elif settings.fal_key is None:
        logger.warning(
            "no fal credentials (FAL_KEY, or `fal auth login`): estimate_cost works, generation tools will say how to "
            "set them"
        )
    elif (problem := fal_key_problem(settings.fal_key.get_secret_value())) is not None:
        logger.warning(
            "%s: %s, so fal would refuse it. Put your own key from %s in the config (`happyhorse-mcp check` tells "
            "more)",
            settings.fal_key_source,
            problem,
            KEYS_PAGE,
        )

    for folder in settings.missing_folders:
        logger.warning(
            "HAPPYHORSE_ALLOWED_DIRS names %s, which does not exist: its files cannot be used (and save_to there "
            "makes it) until it does",
            folder,
        )
    from ..files.localfiles import cannot_write

    if settings.output_dir is not None and (problem := cannot_write(settings.output_dir)) is not None:
        logger.warning("HAPPYHORSE_OUTPUT_DIR: %s; generation calls are refused until that is fixed", problem)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "check":
        from .check import check_command

        raise SystemExit(check_command(offline=args.offline, config=args.config))
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        sys.stderr.write(f"happyhorse-mcp: {exc}\n")
        raise SystemExit(2) from exc
    configure_logging(args.log_level, settings.secrets(), settings.log_file)
    client_factory = None
    if args.sandbox or settings.sandbox:
        from ..sandbox import sandbox_client_factory, sandboxed

        if settings.fal_key is not None and not args.sandbox:
            sys.stderr.write(
                f"happyhorse-mcp: HAPPYHORSE_SANDBOX=1 is set and so is a real fal key ({settings.fal_key_source}): "
                "the sandbox never uses it, and the two are easy to confuse. Unset the key to try the sandbox, unset "
                "HAPPYHORSE_SANDBOX to make real videos, or start with --sandbox to run the sandbox anyway.\n"
            )
            raise SystemExit(2)
        settings = sandboxed(settings)
        client_factory = sandbox_client_factory()
    log_start(settings)
    from ..observability.tracing import configure_from_environment

    configure_from_environment()
    for said in unknown_settings(os.environ):
        logging.getLogger(__name__).warning("%s", said)
    logger = logging.getLogger(__name__)

    # Importing the server makes nearly 600 pydantic models (most of a start), kept for the life of the process: the
    # garbage collector's passes over them find nothing, so it pauses while they are made and leaves them out of its
    # later passes. About 4% fewer instructions to start (callgrind) and 6% less time to the first tools/list (median
    # ratio of 21 interleaved pairs).
    gc.disable()
    try:
        from ..server import create_server, select_tools
        from ..server.options import Serving
    finally:
        gc.enable()
    gc.freeze()

    over_http = args.transport == "http"
    serving = Serving(over_http=over_http, stateless=over_http and args.stateless)
    mcp = create_server(settings, serving=serving, http_client_factory=client_factory)
    read_only = args.read_only if args.read_only is not None else settings.read_only
    try:
        offered = select_tools(mcp, read_only=read_only, names=args.tools.split(",") if args.tools else None)
    except ValueError as exc:
        sys.stderr.write(f"happyhorse-mcp: {exc}\n")
        raise SystemExit(2) from exc
    logger.info("offering tools: %s", ", ".join(offered))

    if args.transport == "stdio":
        import anyio

        from ..transport.stdio import serve_stdio

        try:
            anyio.run(serve_stdio, mcp)
        except KeyboardInterrupt:
            raise SystemExit(130) from None
        return

    import anyio

    from ..transport.http import BindError, HttpOptions, check_bind, check_port, serve_http

    options = HttpOptions.from_settings(settings, host=args.host, port=args.port, stateless=args.stateless)
    try:
        check_bind(options)
        check_port(options.host, options.port)
    except BindError as exc:
        sys.stderr.write(f"happyhorse-mcp: {exc}\n")
        raise SystemExit(2) from exc
    for warning in options.start_warnings():
        logger.warning("%s", warning)
    if options.signs_in:
        from .check import sign_in_summary

        logger.info("sign-in: %s", sign_in_summary(settings))
    elif not options.token:
        logger.warning(
            "serving HTTP without a token: any program on this machine can call the tools and spend the fal balance; "
            "set HAPPYHORSE_HTTP_TOKEN"
        )
    try:
        anyio.run(serve_http, mcp, options, args.log_level)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
