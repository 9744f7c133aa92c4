"""The command line: starting the server (start.py), `check` (check.py), and the tables docs are made from
(docs_tables.py)."""

from .start import main

__all__ = ["main"]
