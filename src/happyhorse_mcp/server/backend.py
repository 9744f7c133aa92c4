"""The job machinery a server runs on: its store and HTTP client opened here, the rest wired by
jobs/machinery.py.

Imported off the event loop at start (it pulls in the HTTP stack), so `initialize` and `tools/list` never wait.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from anyio.abc import TaskGroup

from ..config import Settings
from ..domain.models import Job
from ..fal.queue import default_http_client
from ..jobs.machinery import Machinery, assemble
from ..jobs.store import open_store
from .options import BackendOptions

# What the tools reach the job machinery through.
Backend = Machinery


async def open_backend(
    settings: Settings,
    task_group: TaskGroup,
    stack: AsyncExitStack,
    *,
    on_status_change: Callable[[Job], Awaitable[None]],
    on_change_elsewhere: Callable[[str], Awaitable[None]],
    options: BackendOptions,
    over_http: bool = False,
) -> Backend:
    """Open everything on `stack` (closed with it); jobs are followed in `task_group`."""
    url = settings.database_url.get_secret_value() if settings.database_url else None
    store = await open_store(settings.data_dir, url)
    stack.push_async_callback(store.close)
    http = await stack.enter_async_context((options.http_client_factory or default_http_client)())
    machinery = assemble(
        settings,
        store,
        http,
        task_group,
        on_status_change=on_status_change,
        on_change_elsewhere=on_change_elsewhere,
        follow=options.follow,
        retry=options.retry,
        webhooks=over_http,
    )
    # Runs after the jobs' tasks are cancelled and before the store closes: a restart takes the jobs over at once.
    stack.push_async_callback(machinery.runner.leases.release)
    return machinery
