"""One job's trace, as a collector receives it, drawn and screenshotted for docs/serving.md.

    .venv/bin/python bench/trace_screenshot.py docs/trace-screenshot.png

Serves the fake fal (webhooks on, a bill of USD 0.42 for the job) and an OTLP/HTTP receiver in this process, starts
the server over HTTP with the otel extra's variables, HAPPYHORSE_WEBHOOK_URL and an admin key, makes one 3 s clip
with a `_meta.traceparent`, waits for the trace's spans (the SDK's span for the call, fal.submit, fal.wait,
fal.webhook, fal.billed), draws them as a waterfall with their attributes, and screenshots it in Chromium.
"""

from __future__ import annotations

import html
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakefal import ADMIN_KEY, FakeFal, serve
from tests.otlp import traced_http_server

WANTED = {"tools/call generate_video", "fal.submit", "fal.wait", "fal.webhook", "fal.billed"}


SHOWN = (
    "happyhorse.job_id",
    "happyhorse.endpoint",
    "happyhorse.fal_request_id",
    "happyhorse.estimated_usd",
    "happyhorse.billed_usd",
    "http.response.status_code",
)


def waterfall(spans: list[dict[str, Any]], trace_id: str) -> str:
    first = min(s["start"] for s in spans)
    last = max(s["end"] for s in spans)
    total = max(last - first, 1)
    rows = []
    for span in spans:
        left = 100 * (span["start"] - first) / total
        width = max(100 * (span["end"] - span["start"]) / total, 0.4)
        ms = (span["end"] - span["start"]) / 1e6
        shown = " ".join(
            f"<span class=k>{html.escape(key.removeprefix('happyhorse.'))}</span>={html.escape(str(value))}"
            for key, value in span["attributes"].items()
            if key in SHOWN
        )
        rows.append(
            f"<div class=row><div class=name>{html.escape(span['name'])}</div><div class=lane>"
            f"<div class=bar style='left:{left:.2f}%;width:{width:.2f}%'></div>"
            f"<div class=ms style='left:{min(left + width, 88):.2f}%'>{ms:.1f} ms</div></div>"
            f"<div class=attrs>{shown}</div></div>"
        )
    return f"""<!doctype html><meta charset=utf-8><style>
body{{font:13px system-ui,sans-serif;margin:16px;color:#1d2330;background:#fff;width:1100px}}
h1{{font-size:15px;margin:0 0 4px}} .sub{{color:#667;margin-bottom:12px}}
.row{{display:grid;grid-template-columns:210px 1fr;gap:2px 10px;padding:6px 0;border-top:1px solid #e6e8ee}}
.name{{font-weight:600}} .lane{{position:relative;height:16px;background:#f4f5f8;border-radius:3px}}
.bar{{position:absolute;top:2px;height:12px;background:#4b6cf0;border-radius:3px}}
.ms{{position:absolute;top:0;padding-left:6px;color:#445;font-size:12px}}
.attrs{{grid-column:2;color:#445;font:12px ui-monospace,monospace}} .k{{color:#8a3ffc}}
</style><h1>One generate_video call's trace (trace id {trace_id})</h1>
<div class=sub>{len(spans)} spans over {total / 1e6:.0f} ms, as the OTLP receiver got them from happyhorse-mcp over
HTTP, with fal's webhook ending the job and fal's bill read with an admin key.
No prompt, argument or key is recorded.</div>
{"".join(rows)}"""


async def shoot(page_html: str, out: Path) -> None:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1140, "height": 400}, device_scale_factor=1)
        await page.set_content(page_html)
        await page.screenshot(path=str(out), full_page=True)
        await browser.close()


async def main(out: Path) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    fake = FakeFal(run_seconds=1.5)
    fake.bill = 0.42
    trace_id = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as data:
        async with (
            serve(fake) as fal_url,
            traced_http_server(
                fal_url, Path(data) / "data", webhooks=True, FAL_ADMIN_KEY=ADMIN_KEY, OTEL_SERVICE_NAME="happyhorse-mcp"
            ) as (receiver, url),
            httpx2.AsyncClient(timeout=60) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
        ):
            await client.call_tool(
                "generate_video",
                {"prompt": "a grey horse at dawn", "duration": 3, "resolution": "720p", "wait_seconds": 30},
                meta={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},  # type: ignore[arg-type]
            )
            spans = await receiver.until(trace_id, WANTED)
    spans.sort(key=lambda span: span["start"])
    await shoot(waterfall(spans, trace_id), out)
    print(f"{out}: {len(spans)} spans")


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1] if len(sys.argv) > 1 else "docs/trace-screenshot.png"))
