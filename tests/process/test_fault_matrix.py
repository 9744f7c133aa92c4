"""Every fault fal can throw at each step: the job ends completed or with a clear error, and is never paid twice.

The table in docs/reliability.md is rendered from this test; rerun with UPDATE_SNAPSHOTS=1 to refresh it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from mcp import Client
from pydantic import SecretStr

from happyhorse_mcp.config import Settings

from ..fakefal import VALID_KEY, FakeFal, Fault, serve
from ..prices import usd
from ..support import make_server

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]

REPORT = Path(__file__).parents[2] / "docs" / "reliability.md"
ROUTES = ("submit", "status", "stream", "result")
FAULTS: dict[str, Fault] = {
    "429": Fault(status=429, body=b'{"detail": "Too many requests"}', headers={"Retry-After": "0"}),
    "500": Fault(status=500),
    "503": Fault(status=503, body=b'{"detail": "Service Unavailable"}'),
    "401 once (auth blip)": Fault(status=401, body=b'{"detail": "Invalid authentication credentials"}'),
    "connection reset": Fault(kind="reset"),
    "stream dropped mid-job": Fault(kind="drop_mid_job"),
    "malformed JSON": Fault(kind="malformed"),
    "expired result": Fault(status=404, body=b'{"detail": "Request not found"}'),
}
APPLIES = {
    "stream dropped mid-job": {"stream"},
    "expired result": {"result"},
    "401 once (auth blip)": {"status", "stream", "result"},
}
PRICE = usd(duration=3)
INVALID = json.dumps({"detail": [{"loc": ["body", "prompt"], "msg": "Too vague", "type": "value_error"}]}).encode()
TYPED_5XX = Fault(
    status=503,
    body=b'{"detail": "Runner unavailable", "error_type": "runner_scheduling_failure"}',
    headers={"X-Fal-Error-Type": "runner_scheduling_failure"},
)
MODEL_ERROR = json.dumps({"detail": [{"loc": ["body"], "msg": "The model crashed", "type": "model_error"}]}).encode()


def _fault(route: str, fault: Fault, times: int = 1) -> Setup:
    return lambda fake, data: fake.fail_next(route, fault, times)  # type: ignore[arg-type]


def _outcome(outcome: str, *then: Setup) -> Setup:
    def setup(fake: FakeFal, data: Path) -> None:
        fake.outcomes.append(outcome)  # type: ignore[arg-type]
        for more in then:
            more(fake, data)

    return setup


Setup = Callable[[FakeFal, Path], None]  # the fake, and the server's data dir before it starts


def _damaged_store(fake: FakeFal, data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    (data / "jobs.sqlite3").write_bytes(b"not a database" * 100)


EXTRA_CELLS: dict[tuple[str, str], Setup] = {
    ("submit", "answer lost after fal accepted"): _fault("submit", Fault(kind="reset", accept=True)),
    ("submit", "422 at submit"): _fault("submit", Fault(status=422, body=INVALID)),
    ("result", "422 at result"): _outcome("validation"),
    ("result", "content policy at result"): _outcome("content_policy"),
    ("result", "model error: 500 with a detail list"): _fault("result", Fault(status=500, body=MODEL_ERROR), 50),
    ("status", "COMPLETED with an error, result 502"): _outcome("infra_error", _fault("result", Fault(status=502), 50)),
    ("status", "typed 5xx (X-Fal-Error-Type), 4 in a row"): _fault("status", TYPED_5XX, 4),
    ("result", "typed 5xx (X-Fal-Error-Type), 4 in a row"): _fault("result", TYPED_5XX, 4),
    ("result", "typed 5xx (X-Fal-Error-Type), persisting"): _fault("result", TYPED_5XX, 50),
    ("status", "a state this server does not know"): _fault(
        "status", Fault(status=200, body=b'{"status": "PAUSED"}'), 50
    ),
    ("result", "403 account locked, persisting"): _fault(
        "result", Fault(status=403, body=b'{"detail": "User is locked. Reason: Admin lock"}'), 50
    ),
    ("result", "result without a video"): _fault("result", Fault(status=200, body=b'{"seed": 7}')),
    ("download", "connection reset mid-body"): _fault("download", Fault(kind="reset")),
    ("download", "Content-Length longer than the body"): _fault("download", Fault(kind="short_body")),
    ("store", "jobs.sqlite3 damaged"): _damaged_store,
    ("download", "redirect to a host not allowed"): lambda fake, data: setattr(
        fake, "download_redirect", "https://attacker.example/v.mp4"
    ),
}
CLEAR_ERRORS = {
    "upstream_error",
    "submit_uncertain",
    "outcome_unknown",
    "model_error",
    "request_timeout",
    "validation_error",
    "content_policy_violation",
    "store_error",
}


@dataclass
class Cell:
    route: str
    fault: str
    status: str
    error: str | None
    cost: float | None
    submits_sent: int
    jobs_billed: int


async def _run_cell(route: str, setup: Setup, tmp: Path) -> Cell:
    fake = FakeFal()
    if route == "status":
        fake.fail_next("stream", Fault(kind="early_close"))  # the status endpoint is used once the stream fails
    setup(fake, tmp)
    videos = tmp / "videos"
    videos.mkdir(parents=True)
    arguments: dict[str, object] = {"prompt": "a horse", "duration": 3, "save_to": str(videos)}
    async with serve(fake) as url:
        settings = Settings(
            fal_key=SecretStr(VALID_KEY), queue_url=url, rest_url=url, cdn_url=url, data_dir=tmp, allowed_dirs=(videos,)
        )
        async with Client(make_server(settings)) as client:
            with anyio.fail_after(20):
                result = await client.call_tool("generate_video", arguments)
    out = result.structured_content or {}
    error = (out.get("error") or {}).get("type")
    status = out.get("status", "refused")
    if status == "refused" and "cannot be read" in " ".join(getattr(c, "text", "") for c in result.content):
        error = "store_error"
    if status == "completed" and out.get("download_error"):
        status, error = "completed, not saved", "download_error"
    return Cell(route, "", status, error, out.get("cost_usd"), fake.calls("submit"), len(fake.submits))


async def test_every_fault_ends_completed_or_with_a_clear_error_and_never_pays_twice(tmp_path: Path) -> None:
    cases: list[tuple[str, str, Setup]] = [
        (route, name, _fault(route, fault))
        for name, fault in FAULTS.items()
        for route in ROUTES
        if route in APPLIES.get(name, ROUTES)
    ]
    cases += [(route, name, setup) for (route, name), setup in EXTRA_CELLS.items()]
    cells: list[Cell | None] = [None] * len(cases)
    at_once = anyio.CapacityLimiter(4)  # each cell is its own fake and server: independent, so they overlap

    async def run(n: int, route: str, name: str, setup: Setup) -> None:
        async with at_once:
            cell = await _run_cell(route, setup, tmp_path / str(n))
        cell.fault = name
        cells[n] = cell

    async with anyio.create_task_group() as tg:
        for n, (route, name, setup) in enumerate(cases):
            tg.start_soon(run, n, route, name, setup)
    assert all(cells)
    done = [cell for cell in cells if cell is not None]

    def sound(c: Cell) -> bool:
        if c.jobs_billed > 1 or (c.submits_sent > 1 and c.fault != "429"):
            return False
        if c.status.startswith("completed"):
            return c.jobs_billed == 1 and c.cost == PRICE
        if c.status == "failed":  # fal's word that the run failed: not billed
            return c.error in CLEAR_ERRORS and c.cost == 0.0
        if c.status == "refused":  # the call was answered with a clear error, and nothing was sent
            return c.error in CLEAR_ERRORS and c.submits_sent == 0
        return c.status == "unknown" and c.error in CLEAR_ERRORS and (c.jobs_billed == 0 or c.cost == PRICE)

    assert [c for c in done if not sound(c)] == []

    rendered = _render(done)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        REPORT.write_text(rendered)
    assert rendered == REPORT.read_text(), "the fault matrix changed: rerun with UPDATE_SNAPSHOTS=1 and review"


# Hand-kept rows for what the matrix cannot inject (attacks and races), each naming its test.
ATTACKS = (Path(__file__).parent / "attacks_and_races.md").read_text()


def _render(cells: list[Cell]) -> str:
    rows = "\n".join(
        f"| {c.route} | {c.fault} | {c.status + (f' ({c.error})' if c.error else '')} | "
        f"{'' if c.cost is None else f'{c.cost:.2f}'} | {c.submits_sent} | {c.jobs_billed} |"
        for c in cells
    )
    return f"""# Reliability: the fault matrix

Generated by `tests/process/test_fault_matrix.py`
(`UPDATE_SNAPSHOTS=1 ./scripts/test tests/process/test_fault_matrix.py`): each row is a real run of
`generate_video` against the fake fal over loopback, with one fault injected at one step of the job. A row passes
when the job ends `completed`, or `failed`/`unknown` with a clear error, and fal took at most one job (nothing is
ever paid for twice).

- **submit requests** counts every submit that reached fal; a second one happens only after a 429, which fal
  answers without taking the job.
- **jobs billed** counts the jobs fal accepted.
- `unknown` (`submit_uncertain`) means the submit may have reached fal but its answer was lost; the job is never
  resent, and the error points at fal's dashboard. It is then settled from fal's own records (`jobs/settle.py`, at
  start and every 5 minutes, with the job's own fal key): fal's platform API lists the requests to the job's endpoint
  from a minute before its submit to 15 minutes after, with their inputs; the one whose input is the job's is its
  request, and the job is followed again to its end. Found none 30 minutes after the submit, the job is recorded
  `failed` (`never_reached_fal`) at USD 0, and what it held against the budgets is released. Several requests with
  the same input leave it `unknown` (logged). With webhooks, fal's post for it settles it at once. A 5xx answer to
  a submit is not resent either (fal bills no 5xx, and the error says to try again).
- Status, stream and result reads are retried with backoff; a failed status stream falls back to polling. A key
  refused while following (401/403) is waited out; if it persists, or fal's answers cannot be read, or the result
  endpoint keeps failing, the job ends `unknown` with its estimate counted (fal may have finished and billed it),
  never `failed` at no cost. Only fal's own word that the run failed (a model error, a 422, a COMPLETED status with
  an error) ends a job `failed`, which fal does not bill.
- A download problem only ever sets `download_error`: the job stays `completed` with its cost and video URL, and no
  partial file is left.
- Every job asks to save its video (`save_to`), so the download step is exercised in every row.
- A damaged `jobs.sqlite3` makes every tool say which file and what to do, the server staying up, and nothing is
  sent. Not in the table, with its own test (`tests/e2e/test_store_faults.py`): a store write that fails (a full
  disk) keeps the job in memory and writes it again until the store takes it.

| step | fault | outcome | cost recorded (USD) | submit requests | jobs billed |
|---|---|---|---|---|---|
{rows}

{ATTACKS}"""
