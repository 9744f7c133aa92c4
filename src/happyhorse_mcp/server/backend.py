"""The job machinery a server runs on: the store, the fal clients, the spend guard and the runner, wired once.

Imported off the event loop at start (it pulls in the HTTP stack), so `initialize` and `tools/list` never wait.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from anyio.abc import TaskGroup

from ..auth.key_vault import KeyVault
from ..config.settings import DOWNLOAD_TIMEOUT_SECONDS, Settings
from ..domain.models import Job
from ..fal.credentials import credentials_for
from ..fal.download import VideoDownloader
from ..fal.queue import FalQueue, default_http_client
from ..fal.storage import FalStorage
from ..jobs.accounts import FalAccounts
from ..jobs.films import Films
from ..jobs.follow import FollowPolicy
from ..jobs.generation import Generation
from ..jobs.runner import JobRunner
from ..jobs.spend import SpendGuard
from ..jobs.store import open_store
from .options import BackendOptions


@dataclass(frozen=True)
class Backend:
    runner: JobRunner
    guard: SpendGuard
    storage: FalStorage
    downloader: VideoDownloader
    generation: Generation
    accounts: FalAccounts
    films: Films


async def open_backend(
    settings: Settings,
    task_group: TaskGroup,
    stack: AsyncExitStack,
    *,
    on_status_change: Callable[[Job], Awaitable[None]],
    on_change_elsewhere: Callable[[str], Awaitable[None]],
    options: BackendOptions,
) -> Backend:
    """Open everything on `stack` (closed with it); jobs are followed in `task_group`."""
    url = settings.database_url.get_secret_value() if settings.database_url else None
    store = await open_store(settings.data_dir, url)
    stack.push_async_callback(store.close)
    http = await stack.enter_async_context((options.http_client_factory or default_http_client)())
    credentials = credentials_for(settings)
    fal = FalQueue(http, queue_url=settings.queue_url, credentials=credentials, retry=options.retry)
    storage = FalStorage(http, rest_url=settings.rest_url, cdn_url=settings.cdn_url, credentials=credentials)
    downloader = VideoDownloader(
        http,
        extra_hosts=[settings.cdn_url, *settings.download_hosts],
        max_bytes=settings.max_download_bytes,
        timeout_seconds=DOWNLOAD_TIMEOUT_SECONDS,
    )
    guard = SpendGuard(store, settings.limits)
    vault = KeyVault(settings.user_keys_secrets) if settings.user_keys_secrets else None
    accounts = FalAccounts(fal, storage, store, vault)
    runner = JobRunner(
        fal,
        store,
        guard,
        task_group,
        downloader=downloader,
        on_status_change=on_status_change,
        on_change_elsewhere=on_change_elsewhere,
        policy=options.follow or FollowPolicy(lease_seconds=settings.lease_seconds),
        accounts=accounts,
    )
    # Runs after the jobs' tasks are cancelled and before the store closes: a restart takes the jobs over at once.
    stack.push_async_callback(runner.leases.release)
    generation = Generation(
        runner=runner,
        guard=guard,
        storage=storage,
        has_credentials=settings.has_fal_credentials,
        accounts=accounts,
    )
    films = Films(
        runner=runner,
        store=store,
        guard=guard,
        downloader=downloader,
        accounts=accounts,
        work_dir=settings.data_dir / "films",
        task_group=task_group,
        has_credentials=settings.has_fal_credentials,
    )
    return Backend(
        runner=runner,
        guard=guard,
        storage=storage,
        downloader=downloader,
        generation=generation,
        accounts=accounts,
        films=films,
    )
