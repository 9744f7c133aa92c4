"""Wall time of the two test runs README gives, after the first install (venv, .tools, PostgreSQL present):
`./scripts/test` (the quick run: lint, format, types, every test needing no browser, Node or PostgreSQL) and
`./scripts/test --all` (everything CI runs, with the browser tests when HAPPYHORSE_BROWSER_TESTS=1 is set).

    .venv/bin/python bench/suite_time.py [runs]     # prints Markdown table rows: min / median / max

Run from the repository root; a warm-up run of each comes first (bytecode compiled).
"""

from __future__ import annotations

import statistics
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
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rows = []
    for label, command in [
        ("./scripts/test (quick)", [str(ROOT / "scripts" / "test"), "-q", "-p", "no:cacheprovider"]),
        ("./scripts/test --all", [str(ROOT / "scripts" / "test"), "--all", "-q", "-p", "no:cacheprovider"]),
    ]:
        timed(command)  # warm-up
        times = sorted(timed(command) for _ in range(runs))
        rows.append(f"| {label} | {times[0]:.1f} s | {statistics.median(times):.1f} s | {times[-1]:.1f} s |")
    sys.stdout.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
