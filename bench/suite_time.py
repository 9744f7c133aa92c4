"""Wall time of the two test runs README gives, after the first install (venv, .tools, PostgreSQL present):
`./scripts/test` (the quick run: lint, format, types, every test needing no browser, Node or PostgreSQL) and
`./scripts/test --all` (everything CI runs, with the browser tests when HAPPYHORSE_BROWSER_TESTS=1 is set).

    .venv/bin/python bench/suite_time.py [runs] [--quick]   # prints Markdown table rows: min / median / max

Run from the repository root with the venv's Python; a warm-up run of each comes first (bytecode compiled). Shared
machines drift in speed (this one by more than half within an hour), so before each run the CPU time of importing the
server in a new process is taken too (the least of three), and each row gives it beside the run's median: how fast
the machine was when the run was timed.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def reference_seconds() -> float:
    """CPU seconds of importing the server in a new process: what each server a test starts and each pytest worker
    pays first. It tracks this machine's slow moments where a pure-Python loop does not: one morning such a loop took
    0.43 s to 0.58 s of CPU while this took 0.9 s to 1.9 s."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", "import happyhorse_mcp.server"], cwd=ROOT, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed(command: list[str]) -> tuple[float, float]:
    reference = min(reference_seconds() for _ in range(3))
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started, reference


def main() -> None:
    parser = argparse.ArgumentParser(description="Time the quick test run and the whole suite.")
    parser.add_argument("runs", nargs="?", type=int, default=3, help="timed runs of each, after a warm-up")
    parser.add_argument("--quick", action="store_true", help="time the quick run only")
    options = parser.parse_args()
    # As README gives them, pytest's cache on: the warm-up keeps there the clips the media tests encode, as a
    # developer's first run does.
    suites = [("./scripts/test (quick)", [str(ROOT / "scripts" / "test"), "-q"])]
    if not options.quick:
        suites.append(("./scripts/test --all", [str(ROOT / "scripts" / "test"), "--all", "-q"]))
    rows = ["| run | min | median | max | importing the server (median) |", "|---|---|---|---|---|"]
    for label, command in suites:
        timed(command)  # warm-up
        results = [timed(command) for _ in range(options.runs)]
        times = sorted(wall for wall, _ in results)
        reference = statistics.median(ref for _, ref in results)
        rows.append(
            f"| {label} | {times[0]:.1f} s | {statistics.median(times):.1f} s | {times[-1]:.1f} s | {reference:.2f} s |"
        )
    sys.stdout.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
