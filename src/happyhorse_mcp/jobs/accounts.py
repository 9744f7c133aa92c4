"""Which fal account a job is sent to, read from and cancelled at: the user's own key when they gave one
(HAPPYHORSE_USER_KEYS_SECRET set: "bring your own key"), else the server's. The choice is made once, at admission,
and kept on the job (`own_fal_key`), so whichever process follows the job later asks fal with the same account.

A user's key is kept sealed in the store (auth/key_vault.py) and opened only to sign a request; it is never logged,
never returned, and gone from the store once deleted. A job still running when its owner deletes their key can no
longer be read at fal: it ends `unknown`, saying so (its fal request id is in the record).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import SecretStr

from ..domain.errors import InvalidArgumentError, InvalidKeyError, OutcomeUnknownError
from ..domain.keys import KEYS_PAGE, fal_key_problem
from ..domain.models import Job
from ..fal.credentials import KeyCredentials
from ..fal.queue import FalQueue
from ..fal.storage import FalStorage
from .store import FalKeyStore

if TYPE_CHECKING:
    from ..auth.key_vault import KeyVault

OWN_KEY = "your own fal key"


@dataclass(frozen=True)
class OwnKeyCredentials(KeyCredentials):
    key: SecretStr = field(repr=False)
    source: str = OWN_KEY

    @property
    def when_refused(self) -> str:
        return "fal refused your own fal key: enter a valid one again with fal_key(action='set'), or delete it."


class FalAccounts:
    def __init__(self, fal: FalQueue, storage: FalStorage, store: FalKeyStore, vault: KeyVault | None) -> None:
        self._fal = fal
        self._storage = storage
        self._store = store
        self.vault = vault

    async def has_own_key(self, owner: str) -> bool:
        return self.vault is not None and await self._store.fal_key(owner) is not None

    async def save(self, owner: str, fal_key: str) -> None:
        key = fal_key.strip()
        if self.vault is None:
            raise InvalidArgumentError("This server does not take users' own fal keys (HAPPYHORSE_USER_KEYS_SECRET).")
        if (problem := fal_key_problem(key)) is not None:  # the rules FAL_KEY obeys: fal could never be sent it
            raise InvalidArgumentError(
                f"That is not a fal key: {problem}. Copy it again, plain (key-id:key-secret), from {KEYS_PAGE}."
            )
        await self._store.put_fal_key(owner, self.vault.seal(owner, key))

    async def key_state(self, owner: str) -> str:
        """Where `owner`'s own key stands (none, or which sealing): a key page link works only while it is so."""
        from ..auth.key_vault import key_state

        return key_state(await self._store.fal_key(owner) if self.vault is not None else None)

    async def delete(self, owner: str) -> bool:
        return await self._store.delete_fal_key(owner)

    async def _own(self, owner: str) -> OwnKeyCredentials | None:
        """`owner`'s own key, opened to sign requests (one read of the store); None when they have none here."""
        sealed = await self._store.fal_key(owner) if self.vault is not None else None
        if sealed is None or self.vault is None:
            return None
        from ..auth.key_vault import SealedKeyUnreadable  # sign-in's: loaded only where users' keys are kept

        try:
            opened = self.vault.open(owner, sealed)
        except SealedKeyUnreadable as exc:
            raise InvalidKeyError(
                f"Your own fal key cannot be opened ({exc}): enter it again with fal_key(action='set')."
            ) from exc
        if self.vault.sealed_with_an_older_secret(sealed):  # rotation: sealed again under the new secret
            await self._store.put_fal_key(owner, self.vault.seal(owner, opened))
        return OwnKeyCredentials(SecretStr(opened))

    async def queue_for(self, job: Job) -> FalQueue:
        if not job.own_fal_key:
            return self._fal
        try:
            own = await self._own(job.owner)
        except InvalidKeyError as exc:
            # The job may still be running at fal, on the owner's account: its outcome is unknown here, and what it
            # holds against the budgets stays held.
            raise OutcomeUnknownError(
                "This job was sent with your own fal key, which this server can no longer open (the secret that "
                "sealed it, HAPPYHORSE_USER_KEYS_SECRET, is no longer listed), so fal cannot be asked about it or "
                "told to cancel it from here. It may still finish and be billed to your fal account: see "
                "https://fal.ai/dashboard/requests. The operator can list the old secret again, after the new one, "
                "to reach it."
            ) from exc
        if own is None:
            raise OutcomeUnknownError(
                "This job was sent with your own fal key, which has since been deleted, so fal can no longer be "
                "asked about it. It may still finish and be billed to your fal account: see "
                "https://fal.ai/dashboard/requests."
            )
        return self._fal.signed_by(own)

    async def account_for(self, owner: str) -> tuple[bool, FalStorage]:
        """Whether a new job of `owner`'s goes on their own key, and fal storage signed for that account."""
        own = await self._own(owner)
        return own is not None, self._storage.signed_by(own) if own is not None else self._storage
