"""Wall time of the test suite (with the throwaway PostgreSQL that scripts/test starts) and of the whole
`scripts/test` (lint, format, types, tests), after the first install.

    .venv/bin/python bench/suite_time.py     # prints two Markdown table rows

Run from the repository root. Each is run once after a warm-up run of pytest (bytecode compiled, .tools installed).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    pytest = [
        str(ROOT / "scripts" / "with-postgres"),
        str(ROOT / ".venv" / "bin" / "pytest"),
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "4",
    ]
    timed(pytest)  # warm-up
    suite = timed(pytest)
    whole = timed([str(ROOT / "scripts" / "test"), "-q", "-p", "no:cacheprovider"])
    sys.stdout.write(
        f"| pytest (4 workers, with a throwaway PostgreSQL) | {suite:.1f} s |\n"
        f"| scripts/test, after the first install | {whole:.1f} s |\n"
    )


if __name__ == "__main__":
    main()
