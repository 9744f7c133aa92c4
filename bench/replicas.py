"""Replicas at load: three `--stateless` HTTP replicas on one PostgreSQL and the fake fal, each in its own process.

    scripts/with-postgres .venv/bin/python bench/replicas.py [--jobs 300] [--races 10]    # prints Markdown

1. `--jobs` jobs at once, spread over the replicas; each is awaited on another replica than the one that started it.
   Reports how many completed, submits per job, and the lag from the follower recording the job complete to the
   waiter on the other replica returning it.
2. Takeover: with jobs held at fal, the replica following them is killed with SIGKILL; how long until another
   replica has completed all of them once fal finishes.
3. Budget races: `--races` runs of 36 submits at once over the three replicas against a USD 3.00 budget: how often
   the replicas together overspent, and whether a job that fitted was refused.
4. Two users' budget races: the same, with two signed-in users (named tokens) each sending 18, each with a USD 2.00
   daily budget of their own within the USD 3.00 of the deployment: how often either budget was overspent.

5. Webhooks at scale (`--only webhooks`): `--users` signed-in users (named tokens) start `--jobs` jobs at once over the
   three replicas, fal running each `--fal-seconds least,spread` (default 5 s, none spread) so all are in flight
   together, every replica with HAPPYHORSE_WEBHOOK_URL set to the next replica's address (as a load balancer would
   send fal's post anywhere). Reports jobs lost or submitted twice, requests to fal by kind (no status stream per
   job), and the lag from fal sending its post to the job recorded completed and to the waiting call (on a third
   replica) returning the job.

`--only races,team` runs only the parts named (load, takeover, races, team, webhooks).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOKEN = "bench-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(args: list[str], env: dict[str, str], ready_text: str) -> Iterator[subprocess.Popen[str]]:
    ready = threading.Event()

    def drain(stream: IO[str]) -> None:
        with stream:
            for line in stream:
                if ready_text in line:
                    ready.set()
        ready.set()

    child = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert child.stderr is not None
    threading.Thread(target=drain, args=(child.stderr,), daemon=True).start()
    try:
        if not ready.wait(60) or child.poll() is not None:
            raise RuntimeError(f"{args} did not start")
        yield child
    finally:
        if child.poll() is None:
            child.terminate()
        child.wait(30)


SEEN: list[dict[str, Any]] = []  # what each fake fal saw, reported when it stops


@contextmanager
def fake_fal(run_seconds: float, spread: float = 0.0) -> Iterator[str]:
    args = [sys.executable, "-m", "tests.fakefal", "--run-seconds", str(run_seconds), "--run-spread", str(spread)]
    child = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip()
    finally:
        child.terminate()
        out, _ = child.communicate(timeout=30)
        if out.strip():
            SEEN.append(json.loads(out.strip().splitlines()[-1]))


def replica_env(fal_url: str, database_url: str, data: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": data,
        "FAL_KEY": "fake-key-id:fake-key-secret",
        "HAPPYHORSE_FAL_QUEUE_URL": fal_url,
        "HAPPYHORSE_FAL_REST_URL": fal_url,
        "HAPPYHORSE_FAL_CDN_URL": fal_url,
        "HAPPYHORSE_DATA_DIR": data,
        "HAPPYHORSE_DATABASE_URL": database_url,
        "HAPPYHORSE_HTTP_TOKEN": TOKEN,
        "HAPPYHORSE_CONFIRM_ABOVE_USD": "1000",
        "HAPPYHORSE_MAX_USD_PER_JOB": "1000",
        **extra,
    }


@contextmanager
def replicas(fal_url: str, database_url: str, data: str, count: int = 3, **extra: str) -> Iterator[list[Any]]:
    with contextmanager_stack() as stack:
        started = []
        for _ in range(count):
            port = _free_port()
            args = [sys.executable, "-m", "happyhorse_mcp", "--transport", "http", "--stateless", "--port", str(port)]
            child = stack.enter_context(
                process(args, replica_env(fal_url, database_url, data, **extra), "Uvicorn running on")
            )
            started.append((f"http://127.0.0.1:{port}/mcp", child))
        yield started


@contextmanager
def contextmanager_stack() -> Iterator[Any]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield stack


@asynccontextmanager
async def client(url: str, token: str = TOKEN) -> AsyncIterator[Any]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy") as connected,
    ):
        yield connected


async def fresh_database(base: str) -> str:
    import secrets

    import psycopg

    schema = f"b_{secrets.token_hex(4)}"
    async with await psycopg.AsyncConnection.connect(base, autocommit=True) as db:
        await db.execute(f"CREATE SCHEMA {schema}")
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


async def load(base: str, jobs: int) -> str:
    database_url = await fresh_database(base)
    with (
        tempfile.TemporaryDirectory() as data,
        fake_fal(run_seconds=2.0) as fal_url,
        replicas(fal_url, database_url, data, HAPPYHORSE_DAILY_BUDGET_USD="100000") as started,
    ):
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(client(url)) for url, _ in started]
            lags: list[float] = []
            completed = 0
            other: dict[str, int] = {}

            async def one(n: int) -> None:
                nonlocal completed
                starter, waiter = clients[n % 3], clients[(n + 1) % 3]
                made = await starter.call_tool("generate_video", {"prompt": f"bench {n}", "wait_seconds": 0})
                job_id = made.structured_content["job_id"]
                done = await waiter.call_tool("get_job", {"job_id": job_id, "wait_seconds": 120})
                seen = time.time()
                job = done.structured_content
                if job and job["status"] == "completed":
                    completed += 1
                    lags.append(seen - datetime.fromisoformat(job["finished_at"]).timestamp())
                else:
                    kind = f"{job['status']} ({(job.get('error') or {}).get('type')})" if job else "refused"
                    other[kind] = other.get(kind, 0) + 1
                    if job and job.get("error"):
                        sys.stderr.write(f"not completed: {job['error']['message']}\n")

            started_at = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for n in range(jobs):
                    tg.start_soon(one, n)
            elapsed = time.perf_counter() - started_at
            listed = await clients[0].call_tool("list_jobs", {"limit": 200})
    ms = sorted(lag * 1000 for lag in lags)
    return (
        f"| {jobs} jobs at once over 3 replicas, each awaited on another replica | {completed}/{jobs} completed in "
        f"{elapsed:.1f} s; completion seen by the waiter on the other replica: median {statistics.median(ms):.0f} "
        f"ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.0f} ms; jobs recorded (first 200 listed): "
        f"{listed.structured_content['count']}{'; not completed: ' + str(other) if other else ''} |"
    )


async def takeover(base: str, jobs: int = 10) -> str:
    database_url = await fresh_database(base)
    with (
        tempfile.TemporaryDirectory() as data,
        fake_fal(run_seconds=4.0) as fal_url,
        replicas(fal_url, database_url, data) as started,
    ):
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(client(url)) for url, _ in started]
            ids = []
            for n in range(jobs):
                made = await clients[0].call_tool("generate_video", {"prompt": f"held {n}", "wait_seconds": 0})
                ids.append(made.structured_content["job_id"])
            killed_at = time.perf_counter()
            started[0][1].send_signal(signal.SIGKILL)
            for job_id in ids:
                await clients[1].call_tool("get_job", {"job_id": job_id, "wait_seconds": 60})
            elapsed = time.perf_counter() - killed_at
    return (
        f"| SIGKILL of the replica following {jobs} jobs (fal runs each 4 s; leases 6 s) | all {jobs} completed by "
        f"the other replicas {elapsed:.1f} s after the kill |"
    )


async def race(urls: list[str], costs: list[float], arguments: list[dict[str, Any]]) -> float:
    """36 submits at once, round-robin over the replicas; the USD committed."""
    admitted: list[float] = []
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(client(url)) for url in urls]

        async def one(n: int) -> None:
            call = {"prompt": f"race {n}", "wait_seconds": 0, **arguments[n % 4]}
            result = await clients[n % 3].call_tool("generate_video", call)
            if not result.is_error:
                admitted.append(costs[n % 4])

        async with anyio.create_task_group() as tg:
            for n in range(36):
                tg.start_soon(one, n)
    return round(sum(admitted), 2)


async def races(base: str, runs: int) -> str:
    overspent = refused_that_fitted = 0
    totals = []
    costs = [0.42, 0.84, 1.26, 0.70]  # 3 s at 720p, 3 s at 1080p, 9 s at 720p, 5 s at 720p
    arguments = [
        {"duration": 3, "resolution": "720p"},
        {"duration": 3, "resolution": "1080p"},
        {"duration": 9, "resolution": "720p"},
        {"duration": 5, "resolution": "720p"},
    ]
    with tempfile.TemporaryDirectory() as data, fake_fal(run_seconds=0.0) as fal_url:
        for _ in range(runs):
            database_url = await fresh_database(base)
            with replicas(fal_url, database_url, data, HAPPYHORSE_DAILY_BUDGET_USD="3.00") as started:
                total = await race([url for url, _ in started], costs, arguments)
            totals.append(total)
            overspent += total > 3.0
            refused_that_fitted += 3.0 - total >= min(costs)
    return (
        f"| budget races: {runs} runs of 36 submits at once over 3 replicas, USD 3.00 budget | overspent in "
        f"{overspent}/{runs} runs; committed USD {min(totals):.2f}-{max(totals):.2f}; runs where a job that fitted "
        f"was refused: {refused_that_fitted} |"
    )


USERS = {"alice": "alice-bench-token-0123456789", "bob": "bob-bench-token-0123456789"}


async def team_race(urls: list[str]) -> dict[str, float]:
    """18 submits of each user at once (5 s at 720p, USD 0.70 each), round-robin over the replicas."""
    committed = {user: 0.0 for user in USERS}
    async with AsyncExitStack() as stack:
        clients = {
            (user, n): await stack.enter_async_context(client(url, token))
            for user, token in USERS.items()
            for n, url in enumerate(urls)
        }

        async def one(user: str, n: int) -> None:
            call = {"prompt": f"{user} {n}", "wait_seconds": 0, "duration": 5, "resolution": "720p"}
            if not (await clients[user, n % 3].call_tool("generate_video", call)).is_error:
                committed[user] = round(committed[user] + 0.70, 2)

        async with anyio.create_task_group() as tg:
            for n in range(18):
                for user in USERS:
                    tg.start_soon(one, user, n)
    return committed


async def team_races(base: str, runs: int) -> str:
    user_overspent = deployment_overspent = refused_that_fitted = 0
    totals = []
    with tempfile.TemporaryDirectory() as data, fake_fal(run_seconds=0.0) as fal_url:
        tokens = Path(data) / "tokens"
        tokens.write_text("".join(f"{user} {token}\n" for user, token in USERS.items()))
        team = {
            "HAPPYHORSE_HTTP_TOKEN": "",
            "HAPPYHORSE_HTTP_TOKENS_FILE": str(tokens),
            "HAPPYHORSE_USER_DAILY_BUDGET_USD": "2.00",
            "HAPPYHORSE_DAILY_BUDGET_USD": "3.00",
        }
        for _ in range(runs):
            database_url = await fresh_database(base)
            with replicas(fal_url, database_url, data, **team) as started:
                committed = await team_race([url for url, _ in started])
            total = round(sum(committed.values()), 2)
            totals.append(total)
            user_overspent += any(usd > 2.0 for usd in committed.values())
            deployment_overspent += total > 3.0
            # A 0.70 job still fitted both budgets of someone, yet was refused.
            refused_that_fitted += any(3.0 - total >= 0.70 and 2.0 - usd >= 0.70 for usd in committed.values())
    return (
        f"| two users' budget races: {runs} runs of 18 submits each at once over 3 replicas, USD 2.00 a user within "
        f"USD 3.00 | a user's budget overspent in {user_overspent}/{runs} runs, the deployment's in "
        f"{deployment_overspent}/{runs}; committed USD {min(totals):.2f}-{max(totals):.2f}; runs where a job that "
        f"fitted was refused: {refused_that_fitted} |"
    )


async def webhooks(base: str, jobs: int, users: int, run: float, spread: float) -> list[str]:
    database_url = await fresh_database(base)
    tokens = {f"user{n:03d}": f"user{n:03d}-bench-token-0123456789" for n in range(users)}
    with tempfile.TemporaryDirectory() as data, fake_fal(run_seconds=run, spread=spread) as fal_url:
        token_file = Path(data) / "tokens"
        token_file.write_text("".join(f"{user} {token}\n" for user, token in tokens.items()))
        ports = [_free_port() for _ in range(3)]
        with contextmanager_stack() as stack:
            started = []
            for n, port in enumerate(ports):
                env = replica_env(
                    fal_url,
                    database_url,
                    data,
                    HAPPYHORSE_HTTP_TOKEN="",
                    HAPPYHORSE_HTTP_TOKENS_FILE=str(token_file),
                    HAPPYHORSE_DAILY_BUDGET_USD="100000",
                    HAPPYHORSE_WEBHOOK_URL=f"http://127.0.0.1:{ports[(n + 1) % 3]}",
                    HAPPYHORSE_FAL_JWKS_URL=f"{fal_url}/.well-known/jwks.json",
                )
                args = [sys.executable, "-m", "happyhorse_mcp", "--transport", "http", "--stateless"]
                child = stack.enter_context(process([*args, "--port", str(port)], env, "Uvicorn running on"))
                started.append((f"http://127.0.0.1:{port}/mcp", child))
            seen_at: dict[str, float] = {}
            finished_at: dict[str, float] = {}
            errors: dict[str, int] = {}
            unsettled: list[str] = []
            outcomes: dict[str, int] = {}
            async with AsyncExitStack() as clients_stack:
                clients = {}
                for user, token in tokens.items():
                    for r, (url, _) in enumerate(started):
                        clients[user, r] = await clients_stack.enter_async_context(client(url, token))

                async def one(n: int) -> None:
                    user = f"user{n % users:03d}"
                    made = await clients[user, n % 3].call_tool(
                        "generate_video", {"prompt": f"scale {n}", "wait_seconds": 0}
                    )
                    if made.is_error:
                        outcomes["refused"] = outcomes.get("refused", 0) + 1
                        return
                    job_id = made.structured_content["job_id"]
                    while True:  # a call waits at most 50 s without progress updates: called again, as a host would
                        done = await clients[user, (n + 2) % 3].call_tool(
                            "get_job", {"job_id": job_id, "wait_seconds": 300}
                        )
                        now = time.time()
                        job = done.structured_content or {}
                        if job.get("status") not in ("submitting", "queued", "running"):
                            break
                    if job.get("status") == "unknown":  # settled later? (fal's post, the settler): asked again
                        unsettled.append(job_id)
                        for _ in range(6):
                            again = await clients[user, (n + 2) % 3].call_tool(
                                "get_job", {"job_id": job_id, "wait_seconds": 50}
                            )
                            if (again.structured_content or {}).get("status") == "completed":
                                job = again.structured_content or {}
                                break
                    outcomes[job.get("status", "?")] = outcomes.get(job.get("status", "?"), 0) + 1
                    if job.get("error"):
                        errors[job["error"]["type"]] = errors.get(job["error"]["type"], 0) + 1
                        sys.stderr.write(f"not completed: {job['error']['message']}\n")
                    if job.get("status") == "completed":
                        seen_at[job["fal_request_id"]] = now
                        finished_at[job["fal_request_id"]] = datetime.fromisoformat(job["finished_at"]).timestamp()

                started_at = time.perf_counter()
                async with anyio.create_task_group() as tg:
                    for n in range(jobs):
                        tg.start_soon(one, n)
                elapsed = time.perf_counter() - started_at
    fal = SEEN[-1]
    posted = fal["webhooks_posted_at"]
    lags = sorted((seen_at[rid] - posted[rid]) * 1000 for rid in seen_at if rid in posted)
    recorded = sorted((finished_at[rid] - posted[rid]) * 1000 for rid in finished_at if rid in posted)
    completed = outcomes.get("completed", 0)

    def p95(values: list[float]) -> float:
        return values[int(0.95 * (len(values) - 1))]

    return [
        f"| webhooks at scale: {users} users, {jobs} jobs in flight at once over 3 replicas (fal {run:g} to "
        f"{run + spread:g} s a job), fal's "
        f"post sent to another replica than the submitter's, each job awaited on a third | {completed}/{jobs} "
        f"completed in {elapsed:.1f} s ({outcomes}{', errors ' + str(errors) if errors else ''}); lost: "
        f"{jobs - completed}; first seen unknown, then completed: {len(unsettled) - (jobs - completed)}; "
        "submitted twice: "
        f"{fal['submits'] - jobs}; fal's post to the waiting call returning: median {statistics.median(lags):.0f} ms, "
        f"p95 {p95(lags):.0f} ms; to the job recorded completed (by its follower, the replica that submitted it): "
        f"median {statistics.median(recorded):.0f} ms, p95 {p95(recorded):.0f} ms |",
        f"| fal requests per job in that run | {sum(fal['requests'].values()) / max(fal['submits'], 1):.2f} "
        f"({fal['requests']}, {fal['submits']} submits; no status stream held per job) |",
    ]


async def run(jobs: int, runs: int, parts: set[str], users: int, fal_seconds: tuple[float, float]) -> None:
    base = os.environ.get("HAPPYHORSE_TEST_DATABASE_URL")
    if not base:
        raise SystemExit("run through scripts/with-postgres, which starts a throwaway PostgreSQL")
    print("| run | result |\n|---|---|")
    if "load" in parts:
        print(await load(base, jobs))
        seen = SEEN[-1]
        per_job = sum(seen["requests"].values()) / max(seen["submits"], 1)
        print(f"| fal requests per job in that run | {per_job:.2f} ({seen['requests']}, {seen['submits']} submits) |")
    if "takeover" in parts:
        print(await takeover(base))
    if "races" in parts:
        print(await races(base, runs))
    if "team" in parts:
        print(await team_races(base, runs))
    if "webhooks" in parts:
        print("\n".join(await webhooks(base, jobs, users, *fal_seconds)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--races", type=int, default=10)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--fal-seconds", default="5,0", help="webhooks: each job's run at fal, least and spread")
    parser.add_argument("--only", default="load,takeover,races,team")
    args = parser.parse_args()
    least, spread = (float(part) for part in args.fal_seconds.split(","))
    anyio.run(run, args.jobs, args.races, set(args.only.split(",")), args.users, (least, spread))


if __name__ == "__main__":
    main()
