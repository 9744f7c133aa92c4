"""Webhook-first completion (HAPPYHORSE_WEBHOOK_URL, over HTTP): every submit asks fal to post the request's end to
`<base>/fal/webhook/<job id>.<secret>`, and the job's follower waits for that post instead of holding a status
stream open, reading the status only late and rarely as a backstop (jobs/follow.py).

A delivery is believed only once fal's signature verifies (fal/webhooks.py), its URL's secret is the job's, and its
request id is the job's. Its event is written into the job's record, the one place every replica reads: the
follower here is woken at once, one on another replica by the store's change feed (PostgreSQL's NOTIFY), and a job
whose follower died is taken over with its end already known. A second delivery of the same end changes nothing. A
job that ended `unknown` (its submit's answer lost, or fal kept failing) is reopened by fal's word and settled.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from ..domain.models import FalEnding, Job
from ..fal.webhooks import WebhookEvent, WebhookRejected, WebhookVerifier
from ..observability.tracing import span
from .follow import Heard
from .leases import LeaseLost

if TYPE_CHECKING:
    from .runner import JobRunner

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/fal/webhook"


@dataclass(frozen=True)
class Reply:
    """The receiver's answer to fal: 2xx stops its retries; anything else is delivered again (up to 10 times)."""

    status: int
    said: str


class Webhooks:
    def __init__(self, base_url: str, verifier: WebhookVerifier) -> None:
        self._base = base_url.rstrip("/")
        self._verifier = verifier

    @staticmethod
    def token_for(job_id: str) -> str:
        return f"{job_id}.{secrets.token_urlsafe(24)}"

    def url_for(self, job: Job) -> str | None:
        return f"{self._base}{WEBHOOK_PATH}/{job.webhook_token}" if job.webhook_token else None

    async def receive(self, runner: JobRunner, token: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """One delivery to `<base>/fal/webhook/<token>`: verified, placed, recorded, its job's follower woken."""
        job_id = token.rpartition(".")[0]
        job = await runner.store.get(job_id) if job_id else None
        if job is None or not job.webhook_token or not hmac.compare_digest(job.webhook_token, token):
            logger.warning("refused a webhook delivery for %r: no job has that webhook URL", job_id[:40])
            return Reply(404, "no job of this server has that webhook URL")
        # In the job's own trace: fal's post comes long after the call that started the job ended.
        with span("fal.webhook", job_id, resumed_from=job.trace, fal_request_id=job.request_id) as receiving:
            try:
                reply = await self._receive(runner, job, headers, body)
            except WebhookRejected as exc:
                logger.warning("refused a webhook delivery for job %s: %s", job_id, exc.reason)
                reply = Reply(exc.status, exc.reason)
            receiving.set_attribute("http.response.status_code", reply.status)
            return reply

    async def _receive(self, runner: JobRunner, job: Job, headers: Mapping[str, str], body: bytes) -> Reply:
        event = await self._verifier.verify(headers, body)
        if job.request_id is not None and job.request_id != event.request_id:
            raise WebhookRejected(400, f"the delivery is for request {event.request_id}, not this job's")
        if job.webhook is not None:
            return Reply(200, "already heard")
        ending = FalEnding(
            ok=event.status == "OK", payload=event.payload, error=event.error, payload_error=event.payload_error
        )
        return await _record(runner, job, event, ending)

    def heard(self, runner: JobRunner, job_id: str) -> Heard:
        """What the follower of `job_id` awaits: the end recorded in its record, written here or by another replica;
        None at once when a cancel it has not looked at yet was asked."""

        async def wait(cancel_seen: bool) -> FalEnding | None:
            while True:
                with runner.changes.waiting_on(job_id) as elsewhere:
                    here = runner.live.changed(job_id)
                    # Another replica's write is in the store, not in this one's memory.
                    for job in (runner.live.get(job_id), await runner.store.get(job_id)):
                        if job is not None and job.webhook is not None:
                            return job.webhook
                        if job is not None and job.cancel_requested and not cancel_seen:
                            return None
                    async with anyio.create_task_group() as tg:
                        for event in (elsewhere, here):
                            if event is not None:
                                tg.start_soon(_cancel_when_set, event, tg.cancel_scope)

        return wait


async def _cancel_when_set(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _record(runner: JobRunner, job: Job, event: WebhookEvent, ending: FalEnding) -> Reply:
    """Write fal's word into the job's record, wherever it is followed; reopen a job that ended `unknown`."""
    job_id = job.job_id
    if job.status == "unknown":
        changes = {"webhook": ending, "request_id": event.request_id}
        if await runner.reopen(job_id, **changes):
            logger.info("job %s: fal's webhook settles a job that had ended unknown", job_id)
            return Reply(200, "settled")
        return Reply(200, "already settled")
    if job.request_id is None:
        # The submit's answer has not been recorded yet: fal delivers again, by when it has.
        raise WebhookRejected(503, "the job's submit is still being recorded; deliver again")
    if job.finished:
        return Reply(200, "already ended")
    if runner.live.get(job_id) is not None:
        try:
            await runner.live.update(job_id, webhook=ending)
            return Reply(200, "recorded")
        except LeaseLost:
            runner.live.drop(job_id)
    written = await runner.write_elsewhere(job_id, webhook=ending)
    return Reply(200, "recorded" if written.webhook is not None else "already ended")
