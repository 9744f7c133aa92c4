"""Assembling a film: four 15 s 1080p shots (60 s) with 0.5 s crossfades, loudness brought to one target, written as
one H.264/AAC MP4 by media/assemble.py. Wall time and peak RSS of a fresh process doing only that.

    .venv/bin/python bench/film_assembly.py [--shots 4] [--seconds 15] [--runs 3] [--cut] [--sheet PATH.jpg]

The shots are made first (bench/review.py's clip: moving shapes over a gradient with grain, and a tone; each shot
its own colour and level, 12 dB apart at most) and not timed. Goal (issue 24): under 10 s and 300 MB on this 2-core
machine. `--sheet` also writes the film's contact sheet (review_video's) and prints its loudness per shot.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

RUN = r"""
import json, sys, time
from pathlib import Path
from happyhorse_mcp.media.assemble import Canvas, assemble
shots = [Path(p) for p in sys.argv[3:]]
started = time.perf_counter()
film = assemble(shots, Path(sys.argv[1]), canvas=Canvas(1920, 1080), crossfade_seconds=float(sys.argv[2]))
seconds = time.perf_counter() - started
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "film_seconds": film.seconds}))
"""


TINTS = [(255, 190, 120), (120, 200, 255), (170, 255, 150), (255, 140, 200)]
LEVELS = [0.3, 0.075, 0.6, 0.15]  # -10, -22, -4, -16 dBFS peaks: the film brings them to one loudness


def write_sheet(film: Path, sheet: Path, shot_seconds: int) -> None:
    from happyhorse_mcp.media.loudness import integrated_loudness
    from happyhorse_mcp.review.analysis import analyse
    from happyhorse_mcp.review.sheet import contact_sheet

    with film.open("rb") as file:
        facts = analyse(file, count=9, at_seconds=None)
    sheet.write_bytes(contact_sheet(facts.frames))
    step = shot_seconds - 0.5
    levels = [integrated_loudness(film, n * step + 1, n * step + step - 1) for n in range(len(TINTS))]
    print(f"contact sheet: {sheet}; loudness per shot (LUFS): {', '.join(f'{lv:.1f}' for lv in levels if lv)}")


def main() -> None:
    from review import make_clip

    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sheet", type=Path, help="also write the film's contact sheet here")
    parser.add_argument("--cut", action="store_true", help="cuts instead of 0.5 s crossfades")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        shots = []
        for n in range(args.shots):
            shot = Path(folder) / f"shot{n}.mp4"
            make_clip(shot, args.seconds, tint=TINTS[n % len(TINTS)], level=LEVELS[n % len(LEVELS)])
            shots.append(str(shot))
        runs = []
        for _ in range(args.runs):
            done = subprocess.run(
                [sys.executable, "-c", RUN, str(Path(folder) / "film.mp4"), "0" if args.cut else "0.5", *shots],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            runs.append(json.loads(done.stdout))
        if args.sheet:
            write_sheet(Path(folder) / "film.mp4", args.sheet, args.seconds)
    seconds = [r["seconds"] for r in runs]
    peaks = [r["peak_mb"] for r in runs]
    print(
        f"| {args.shots} shots of {args.seconds} s at 1920x1080, {'cuts' if args.cut else '0.5 s crossfades'}: a "
        f"{runs[0]['film_seconds']:.1f} s "
        f"film | {statistics.median(seconds):.1f} s (min {min(seconds):.1f}, max {max(seconds):.1f}) | peak RSS "
        f"{statistics.median(peaks):.0f} MB (max {max(peaks):.0f}) | {args.runs} fresh processes |"
    )


if __name__ == "__main__":
    main()
