"""The job machinery, wired in one place: the fal clients on one HTTP client, the spend guard, users' own accounts,
the runner, generation and films. The server (server/backend.py, which opens the store and the HTTP client) and the
tests build it here, so each part is made once and handed to the parts that need it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config.settings import DOWNLOAD_TIMEOUT_SECONDS, Settings
from ..domain.models import Job
from ..fal.billing import FalBilling
from ..fal.credentials import credentials_for
from ..fal.download import VideoDownloader
from ..fal.queue import FalQueue
from ..fal.storage import FalStorage
from .accounts import FalAccounts
from .billing import BillingReconciler
from .films import Films
from .follow import FollowPolicy
from .generation import Generation
from .prices import LivePriceWatcher
from .runner import JobRunner
from .settle import Settler
from .spend import SpendGuard
from .store import Store

if TYPE_CHECKING:
    import httpx
    from anyio.abc import TaskGroup

    from ..fal.queue import RetryPolicy


@dataclass(frozen=True)
class Machinery:
    fal: FalQueue
    runner: JobRunner
    guard: SpendGuard
    storage: FalStorage
    downloader: VideoDownloader
    generation: Generation
    accounts: FalAccounts
    films: Films


def assemble(
    settings: Settings,
    store: Store,
    http: httpx.AsyncClient,
    task_group: TaskGroup,
    *,
    on_status_change: Callable[[Job], Awaitable[None]] | None = None,
    on_change_elsewhere: Callable[[str], Awaitable[None]] | None = None,
    follow: FollowPolicy | None = None,
    retry: RetryPolicy | None = None,
    webhooks: bool = False,
) -> Machinery:
    """Everything on `store` and `http` (which the caller opens and closes); jobs are followed in `task_group`.
    `webhooks`: this process serves fal's webhooks (over HTTP), so HAPPYHORSE_WEBHOOK_URL applies."""
    credentials = credentials_for(settings)
    fal = FalQueue(http, queue_url=settings.queue_url, credentials=credentials, retry=retry, api_url=settings.api_url)
    storage = FalStorage(http, rest_url=settings.rest_url, cdn_url=settings.cdn_url, credentials=credentials)
    downloader = VideoDownloader(
        http,
        extra_hosts=[settings.cdn_url, *settings.download_hosts],
        max_bytes=settings.max_download_bytes,
        timeout_seconds=DOWNLOAD_TIMEOUT_SECONDS,
    )
    admin_key = None if settings.sandbox else settings.fal_admin_key  # the sandbox bills nothing
    guard = SpendGuard(store, settings.limits, reads_bills=admin_key is not None)
    vault = None
    if settings.user_keys_secrets:  # users' own keys (sign-in): the vault is loaded only where they are kept
        from ..auth.key_vault import KeyVault

        vault = KeyVault(settings.user_keys_secrets)
    accounts = FalAccounts(fal, storage, store, vault)
    runner = JobRunner(
        fal,
        store,
        guard,
        task_group,
        downloader=downloader,
        on_status_change=on_status_change,
        on_change_elsewhere=on_change_elsewhere,
        policy=follow or FollowPolicy(lease_seconds=settings.lease_seconds),
        accounts=accounts,
        sandbox=settings.sandbox,
    )
    generation = Generation(
        runner=runner, guard=guard, storage=storage, has_credentials=settings.has_fal_credentials, accounts=accounts
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
    runner.films = films  # the runner hands films it takes over, and cancels of films, back to them
    if not settings.sandbox:
        runner.settler = Settler(runner, task_group)
        if settings.has_fal_credentials:
            runner.prices = LivePriceWatcher(fal, task_group)
    if webhooks and settings.webhook_url and not settings.sandbox:
        from ..fal.webhooks import FalSigningKeys, WebhookVerifier
        from .webhooks import Webhooks

        runner.webhooks = Webhooks(settings.webhook_url, WebhookVerifier(FalSigningKeys(http, settings.jwks_url)))
    if admin_key is not None:
        billing = FalBilling(http, api_url=settings.api_url, admin_key=admin_key)
        runner.billing = BillingReconciler(billing, store, task_group, on_billed=on_status_change)
    return Machinery(
        fal=fal,
        runner=runner,
        guard=guard,
        storage=storage,
        downloader=downloader,
        generation=generation,
        accounts=accounts,
        films=films,
    )
