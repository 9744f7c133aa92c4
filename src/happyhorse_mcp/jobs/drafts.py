"""A job as its caller asks for it, before admission: what goes to fal, what it costs and whose it is. The runner
admits it (jobs/runner.py); `record` is the row admission inserts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..domain.budget import Spend
from ..domain.catalog import Operation
from ..domain.models import Job, TaskHandle, utcnow
from ..domain.principal import LOCAL_USER
from .arguments import fingerprint, new_job_id, redact_data_uris


@dataclass(frozen=True)
class JobDraft:
    """`arguments` go to fal; `sent_by_caller` (default: the same) are what the call named, local paths and all,
    and identify a retry with the same `idempotency_key`. A film's shot (`film_admitted_at`) was paid for with its
    film and is dated by it, so it counts on its film's budget day."""

    operation: Operation
    endpoint: str
    arguments: dict[str, Any]
    cost_usd: float
    owner: str = LOCAL_USER
    sent_by_caller: dict[str, Any] | None = None
    idempotency_key: str | None = None
    max_cost_usd: float | None = None
    save_to: Path | None = None
    task: TaskHandle | None = None
    own_fal_key: bool = False
    film_admitted_at: datetime | None = None

    @property
    def identity(self) -> str:
        """What makes a retry the same call."""
        return fingerprint(self.endpoint, self.sent_by_caller if self.sent_by_caller is not None else self.arguments)

    @property
    def spend(self) -> Spend:
        return Spend(
            self.cost_usd, self.owner, max_cost_usd=self.max_cost_usd, within_film=self.film_admitted_at is not None
        )

    def record(self) -> Job:
        """The job as admission records it: a new id, the save path named after it, a data: URI kept as its digest."""
        job_id = new_job_id()
        save_to = self.save_to
        if save_to is not None and save_to.suffix.lower() != ".mp4":
            save_to = save_to / f"{job_id}.mp4"
        return Job(
            job_id=job_id,
            owner=self.owner,
            own_fal_key=self.own_fal_key,
            operation=self.operation,
            endpoint=self.endpoint,
            arguments=redact_data_uris(self.arguments),
            fingerprint=self.identity,
            cost_usd=self.cost_usd,
            idempotency_key=self.idempotency_key,
            save_path=str(save_to) if save_to else None,
            task=self.task,
            created_at=self.film_admitted_at or utcnow(),
        )
