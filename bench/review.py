"""review_video on a 15 s 1080p clip read from a saved copy: wall time, peak RSS growth, and the image's size.

    .venv/bin/python bench/review.py [--seconds 15] [--runs 5] [--sheet docs/review-contact-sheet.jpg]

The clip is made here with PyAV (libx264, 24 fps, moving shapes over a gradient with grain, AAC tone), so decoding
costs what a real clip's does; flat colours would flatter it. Each run is a fresh process (review.reviewing imports
PyAV and Pillow on first use, as the server does), timing the same code path the tool runs: the saved copy opened,
frames and sound analysed, the contact sheet made. Targets: < 1.5 s, < 150 MB peak RSS growth, image < 200 KB.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUN = r"""
import json, os, sys, time
import anyio
from happyhorse_mcp.domain.catalog import Operation
from happyhorse_mcp.domain.models import Job, LocalCopy

def status_mb(field):
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so it would report the parent's peak (the encoder's).
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field)) / 1024

path = sys.argv[1]
info = os.stat(path)
job = Job(
    job_id="hh_bench", status="completed", operation=Operation.TEXT_TO_VIDEO,
    endpoint="alibaba/happy-horse/text-to-video",
    arguments={"prompt": "bench", "duration": 15, "resolution": "1080p", "aspect_ratio": "16:9"},
    output={"video": {"url": "https://v3.fal.media/files/x/bench.mp4"}},
    local_file=LocalCopy(path=path, sha256="0" * 64, size=info.st_size), saved_identity=(info.st_dev, info.st_ino),
)
before = status_mb("VmRSS:")
started = time.perf_counter()
from happyhorse_mcp.review.reviewing import review_job
review, sheet = anyio.run(lambda: review_job(job, None, count=6, at_seconds=None))
elapsed = time.perf_counter() - started
peak = status_mb("VmHWM:")
if len(sys.argv) > 2:
    open(sys.argv[2], "wb").write(sheet)
print(json.dumps({"seconds": elapsed, "rss_growth_mb": peak - before, "image_bytes": len(sheet),
                  "source": review.source, "matches": review.matches_request}))
"""


def make_clip(path: Path, seconds: int, *, tint: tuple[int, int, int] = (255, 255, 255), level: float = 0.3) -> None:
    """A clip that costs what a real one does to decode: moving shapes over a gradient (multiplied by `tint`) with
    grain, and a 220 Hz tone at `level`."""
    import av
    from av.video.stream import VideoStream
    from PIL import Image, ImageDraw

    fps, width, height = 24, 1920, 1080
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    gradient = Image.merge(
        "RGB", [band.point(lambda v, t=t: v * t // 255) for band, t in zip(gradient.split(), tint, strict=True)]
    )
    grain = Image.effect_noise((width, height), 24).convert("RGB")
    base = Image.blend(gradient, grain, 0.25)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        assert isinstance(video, VideoStream)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "18", "g": str(fps * 2)}
        audio = container.add_stream("aac", rate=48000, layout="mono")
        for index in range(seconds * fps):
            picture = base.copy()
            draw = ImageDraw.Draw(picture)
            for k in range(6):
                x = int((index * (6 + k) + k * 300) % width)
                y = int(height / 2 + math.sin(index / 10 + k) * 350)
                draw.ellipse((x - 90, y - 90, x + 90, y + 90), fill=(40 * k, 200 - 25 * k, 120))
            frame = av.VideoFrame.from_image(picture)
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode())
        import array

        for start in range(0, seconds * 48000, 1024):
            values = [level * math.sin(2 * math.pi * 220 * (start + i) / 48000) for i in range(1024)]
            frame = av.AudioFrame(format="flt", layout="mono", samples=1024)
            frame.planes[0].update(array.array("f", values).tobytes())
            frame.sample_rate, frame.pts = 48000, start
            container.mux(audio.encode(frame))
        container.mux(audio.encode())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sheet", type=Path, help="also write the contact sheet here (docs/ keeps one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "clip.mp4"
        make_clip(clip, args.seconds)
        runs = []
        for _ in range(args.runs):
            extra = [str(args.sheet.resolve())] if args.sheet else []
            done = subprocess.run(
                [sys.executable, "-c", RUN, str(clip), *extra], capture_output=True, text=True, check=True, cwd=ROOT
            )
            runs.append(json.loads(done.stdout))
        size_mb = clip.stat().st_size / 1_000_000
    seconds = [r["seconds"] for r in runs]
    print(f"clip: {args.seconds} s, 1920x1080, 24 fps, {size_mb:.1f} MB; {args.runs} fresh processes")
    print(f"review time: median {statistics.median(seconds):.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f})")
    print(f"peak RSS growth: median {statistics.median(r['rss_growth_mb'] for r in runs):.0f} MB")
    print(f"contact sheet: {runs[0]['image_bytes'] / 1024:.0f} KB; read from the {runs[0]['source']}")


if __name__ == "__main__":
    main()
