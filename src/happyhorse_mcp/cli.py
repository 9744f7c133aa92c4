"""`happyhorse-mcp`: start the server. Logs go to stderr; stdout carries only the protocol."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from . import __version__
from .settings import ENVIRONMENT_VARIABLES, ConfigError, Settings

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class RedactingFilter(logging.Filter):
    """Defence in depth: no log line may carry the fal key, whatever logged it."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._secret in message:
            record.msg, record.args = message.replace(self._secret, "[redacted]"), None
        return True


def build_parser() -> argparse.ArgumentParser:
    env_help = "\n".join(f"  {name:<26} {text}" for name, text in ENVIRONMENT_VARIABLES.items())
    parser = argparse.ArgumentParser(
        prog="happyhorse-mcp",
        description="MCP server for HappyHorse-1.0 video generation on fal.",
        epilog=f"environment variables:\n{env_help}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--transport", choices=["stdio"], default="stdio", help="MCP transport (default: stdio).")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="INFO", type=str.upper, help="stderr log level.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def configure_logging(level: str, settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if settings.fal_key is not None:
        handler.addFilter(RedactingFilter(settings.fal_key.get_secret_value()))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # httpx logs every request at INFO; keep that for DEBUG.
    logging.getLogger("httpx").setLevel(max(logging.getLevelName(level), logging.WARNING))


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        sys.stderr.write(f"happyhorse-mcp: {exc}\n")
        raise SystemExit(2) from exc
    configure_logging(args.log_level, settings)
    logger = logging.getLogger(__name__)
    logger.info("happyhorse-mcp %s starting (pid %d), data in %s", __version__, os.getpid(), settings.data_dir)
    if settings.fal_key is None:
        logger.warning("FAL_KEY is not set: estimate_cost works, generation tools will say how to set it")

    from .server import create_server

    create_server(settings).run("stdio")
