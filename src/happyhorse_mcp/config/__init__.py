"""What the operator sets: every environment variable in one registry (variables.py, which `--help`, `check` and
README's table are made from), the kinds values are read as (kinds.py), the named tokens file (tokens_file.py), and
the process's TLS context (tls.py)."""

from .kinds import ConfigError
from .settings import VARIABLES, Settings, Variable, unknown_settings

__all__ = ["VARIABLES", "ConfigError", "Settings", "Variable", "unknown_settings"]
