"""What fal billed: its platform API's billing events (`GET /v1/models/billing-events`, 1 to 50 request ids a call),
readable only with an admin key of the account that ran the requests."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from pydantic import SecretStr

from ..domain.budget import NEEDS_ADMIN_KEY
from ..domain.errors import ProtocolError, UpstreamError
from .queue import CONNECT_TIMEOUT_SECONDS

MAX_IDS_PER_CALL = 50


class AdminKeyRefused(Exception):
    """fal refused the key for billing events: it is no admin key of this account (or no key at all)."""


class FalBilling:
    def __init__(self, http: httpx.AsyncClient, *, api_url: str, admin_key: SecretStr) -> None:
        self._http = http
        self._url = f"{api_url.rstrip('/')}/v1/models/billing-events"
        self._key = admin_key

    async def billed(self, request_ids: Sequence[str]) -> dict[str, float]:
        """USD fal billed for each of `request_ids` that it has billing events for (its events summed); requests it
        has not billed (yet) are absent. Raises AdminKeyRefused on 401/403, UpstreamError or ProtocolError else."""
        if not 1 <= len(request_ids) <= MAX_IDS_PER_CALL:
            raise ValueError(f"1 to {MAX_IDS_PER_CALL} request ids a call, not {len(request_ids)}")
        try:
            response = await self._http.get(
                self._url,
                params=[("request_id", request_id) for request_id in request_ids],
                headers={"Authorization": f"Key {self._key.get_secret_value()}"},
                timeout=httpx.Timeout(30.0, connect=CONNECT_TIMEOUT_SECONDS),
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"fal's billing events did not answer ({type(exc).__name__}).") from exc
        if response.status_code in (401, 403):
            raise AdminKeyRefused(f"{NEEDS_ADMIN_KEY} (fal answered HTTP {response.status_code} to FAL_ADMIN_KEY)")
        if not response.is_success:
            raise UpstreamError(f"fal's billing events answered HTTP {response.status_code}.")
        try:
            events = response.json()["billing_events"]
            wanted = set(request_ids)
            billed: dict[str, float] = {}
            for event in events:
                if (request_id := event.get("request_id")) in wanted:
                    billed[request_id] = round(billed.get(request_id, 0.0) + float(event["cost_total"]), 6)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProtocolError("fal's billing events could not be read.") from exc
        return billed
