"""Which fal account a job uses: its owner's own key when they gave one (sealed in the store), else the server's;
a key that is not one is refused, and a job whose owner deleted their key can no longer be asked about."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from happyhorse_mcp.auth.key_vault import KeyVault
from happyhorse_mcp.domain.catalog import Operation
from happyhorse_mcp.domain.errors import InvalidArgumentError, OutcomeUnknownError
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.fal.credentials import KeyCredentials
from happyhorse_mcp.fal.queue import FalQueue
from happyhorse_mcp.fal.storage import FalStorage
from happyhorse_mcp.jobs.accounts import FalAccounts
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

from ...support import shared_tls

pytestmark = pytest.mark.anyio

SERVERS_KEY = "server-key-id:server-key-secret"
ALICES_KEY = "alice-key-id:alice-key-secret-0123"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        verify=shared_tls()
    ) as client:  # never used for a request here: only signed headers are read
        yield client


def _accounts(http: httpx.AsyncClient, store: MemoryJobStore, vault: KeyVault | None = None) -> FalAccounts:
    credentials = KeyCredentials(SecretStr(SERVERS_KEY))
    fal = FalQueue(http, queue_url="http://fal.test", credentials=credentials)
    storage = FalStorage(http, rest_url="http://fal.test", cdn_url="http://fal.test", credentials=credentials)
    return FalAccounts(fal, storage, store, vault if vault is not None else KeyVault(("s" * 32,)))


def _job(owner: str, own: bool) -> Job:
    return Job(
        job_id="hh_1", owner=owner, own_fal_key=own, operation=Operation.TEXT_TO_VIDEO, endpoint="e", arguments={}
    )


async def test_a_job_sent_with_its_owner_s_key_is_signed_with_it_and_others_with_the_server_s(
    http: httpx.AsyncClient,
) -> None:
    store = MemoryJobStore()
    accounts = _accounts(http, store)
    await accounts.save("alice", ALICES_KEY)
    assert await accounts.has_own_key("alice")
    assert not await accounts.has_own_key("bob")
    assert await (await accounts.queue_for(_job("alice", own=True)))._headers() == {
        "Authorization": f"Key {ALICES_KEY}"
    }
    assert await (await accounts.queue_for(_job("bob", own=False)))._headers() == {
        "Authorization": f"Key {SERVERS_KEY}"
    }
    assert ALICES_KEY.encode() not in store.fal_keys["alice"].blob


async def test_a_deleted_key_leaves_its_running_job_unknown_and_says_where_to_look(http: httpx.AsyncClient) -> None:
    accounts = _accounts(http, MemoryJobStore())
    await accounts.save("alice", ALICES_KEY)
    assert await accounts.delete("alice")
    with pytest.raises(OutcomeUnknownError, match=r"fal\.ai/dashboard/requests"):
        await accounts.queue_for(_job("alice", own=True))
    assert not await accounts.delete("alice")


@pytest.mark.parametrize(
    "typed", ["hello", "no-colon-but-long-enough-000000", "key-id-only:", "spaced key:secret 0123456789"]
)
async def test_something_that_is_not_a_fal_key_is_not_kept(http: httpx.AsyncClient, typed: str) -> None:
    store = MemoryJobStore()
    with pytest.raises(InvalidArgumentError, match="That is not a fal key"):
        await _accounts(http, store).save("alice", typed)
    assert store.fal_keys == {}


async def test_a_job_whose_key_no_listed_secret_opens_is_unknown_saying_why_fal_cannot_be_reached(
    http: httpx.AsyncClient,
) -> None:
    # Changing HAPPYHORSE_USER_KEYS_SECRET recorded a job still at fal on the user's key as failed at USD 0.
    store = MemoryJobStore()
    await _accounts(http, store, KeyVault(("o" * 32,))).save("alice", ALICES_KEY)
    with pytest.raises(OutcomeUnknownError, match="can no longer open") as raised:
        await _accounts(http, store, KeyVault(("n" * 32,))).queue_for(_job("alice", own=True))
    assert "told to cancel it from here" in raised.value.message


async def test_rotation_keeps_every_key_open_and_seals_each_again_under_the_new_secret_as_it_is_used(
    http: httpx.AsyncClient,
) -> None:
    store = MemoryJobStore()
    old, new = "o" * 32, "n" * 32
    await _accounts(http, store, KeyVault((old,))).save("alice", ALICES_KEY)
    rotated = _accounts(http, store, KeyVault((new, old)))
    assert await (await rotated.queue_for(_job("alice", own=True)))._headers() == {"Authorization": f"Key {ALICES_KEY}"}
    only_new = _accounts(http, store, KeyVault((new,)))
    assert await (await only_new.queue_for(_job("alice", own=True)))._headers() == {
        "Authorization": f"Key {ALICES_KEY}"
    }
