"""Making a video, from a tool's arguments to a job at fal: the one flow that spends money, read top to bottom.

1. A `GenerationRequest` is built once from the tool's arguments (as validated, defaults in).
2. `Generation.quote` checks the call's local files and where its video will be saved (refusing what could never
   be saved before anything is paid), prices it, finds the earlier job of a known `idempotency_key`, and applies the
   spend limits, so a refusal comes before anyone is asked to pay. The `Quote` says whether the user must consent
   and whether `max_cost_usd` already did.
3. `Generation.start` uploads the checked local files, admits the job (atomically with the budget and the key) and
   submits it once, bound to an MCP task when asked; it returns the job.

No MCP here: the server asks the user when the quote says so, and renders what comes back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from ..domain.budget import Committed, Spend, SpendLimits
from ..domain.catalog import MAX_EDIT_SOURCE_SECONDS, OperationSpec, check_aspect_ratio
from ..domain.errors import InvalidArgumentError, MissingKeyError, NotAllowedError, NotConfirmedError
from ..domain.models import Job, TaskHandle
from ..domain.pricing import TABLE, CostEstimate, edit_estimate, estimate
from ..domain.principal import GENERATE_SCOPE, LOCAL, Principal
from ..files.localfiles import MediaPlan, plan_media
from .drafts import JobDraft

if TYPE_CHECKING:
    from ..fal.storage import FalStorage
    from .accounts import FalAccounts
    from .runner import JobRunner
    from .spend import SpendGuard

# The arguments every generation tool takes besides those fal takes: how long to wait, the retry key, the price cap,
# where to save the video.
CONTROL_ARGUMENTS = ("wait_seconds", "idempotency_key", "max_cost_usd", "save_to")
PROMPT_SHOWN_IN_QUESTION = 120


def argument_names(spec: OperationSpec) -> tuple[str, ...]:
    """The tool arguments a request of `spec` is made of."""
    versioned = ("version",) if len(spec.versions) > 1 else ()
    edit = ("source_duration",) if spec.billing == "source_plus_output" else ()
    return (*spec.fal_arguments, *versioned, *edit, *CONTROL_ARGUMENTS)


class CallControls:
    """What every call that spends says besides what it makes: read from its `arguments`."""

    arguments: Mapping[str, Any]

    @property
    def idempotency_key(self) -> str | None:
        return self.arguments.get("idempotency_key")

    @property
    def max_cost_usd(self) -> float | None:
        return self.arguments.get("max_cost_usd")

    @property
    def wait_seconds(self) -> float:
        return float(self.arguments.get("wait_seconds") or 0)


@dataclass(frozen=True)
class GenerationRequest(CallControls):
    """One call of a generation tool: its operation, its arguments, and who makes it (who owns and pays for it)."""

    spec: OperationSpec
    arguments: Mapping[str, Any]
    principal: Principal = LOCAL

    @classmethod
    def of(cls, spec: OperationSpec, arguments: Mapping[str, Any], principal: Principal = LOCAL) -> GenerationRequest:
        return cls(spec, {name: arguments.get(name) for name in argument_names(spec)}, principal)

    @property
    def version(self) -> str:
        return str(self.arguments.get("version") or self.spec.default_version)

    @property
    def prompt(self) -> str | None:
        prompt = self.arguments.get("prompt")
        return prompt if isinstance(prompt, str) else None

    @property
    def fal_arguments(self) -> dict[str, Any]:
        """What fal takes, in the spec's order, leaving out what was not given."""
        return {name: self.arguments[name] for name in self.spec.fal_arguments if self.arguments.get(name) is not None}


@dataclass(frozen=True)
class Places:
    """Where one call may read and write local files: the allowed folders (HAPPYHORSE_ALLOWED_DIRS, plus the client's
    roots on stdio), where a relative `save_to` starts, whether the client is on another machine, and where a video
    without `save_to` is saved."""

    allowed: tuple[Path, ...] = ()
    base: Path | None = None
    remote: bool = False
    output_dir: Path | None = None

    def plan(self, spec: OperationSpec, arguments: Mapping[str, Any]) -> MediaPlan:
        """Check the local files `arguments` name for `spec` and where the video is saved, here (blocking)."""
        return plan_media(
            spec, arguments, list(self.allowed), self.base, remote=self.remote, output_dir=self.output_dir
        )


async def earlier_if_may_pay(
    principal: Principal, key: str | None, *, runner: JobRunner, has_credentials: bool, accounts: FalAccounts | None
) -> Job | None:
    """Refuse a caller who may not start paid work here (no generate scope; no fal key, theirs or the server's);
    else the job they already started under `key`, if any (a retry pays nothing)."""
    if not principal.may_generate:
        raise NotAllowedError(GENERATE_SCOPE, "making videos (they cost money)", by_oauth=principal.by_oauth)
    owner = principal.user
    if not has_credentials and not (accounts is not None and await accounts.has_own_key(owner)):
        raise MissingKeyError()
    return await runner.by_idempotency_key(key, owner) if key is not None else None


def price(request: GenerationRequest, plan: MediaPlan) -> tuple[CostEstimate, str]:
    """The job's price, and what it assumed when it had to (said with a budget refusal)."""
    spec, arguments = request.spec, request.arguments
    if spec.has_aspect_ratio:
        check_aspect_ratio(request.version, arguments["aspect_ratio"])
    if spec.billing == "source_plus_output":
        # A local source's length is read from the file; a URL's is what the caller says, else the longest.
        seconds = source_seconds(arguments.get("source_duration"), plan)
        assumption = (
            f" The source's length was not given, so {MAX_EDIT_SOURCE_SECONDS} s was assumed: pass source_duration."
            if not seconds
            else ""
        )
        return edit_estimate(spec, arguments["resolution"], seconds), assumption
    return estimate(
        spec, duration=arguments["duration"], resolution=arguments["resolution"], version=request.version
    ), ""


def source_seconds(given: float | None, plan: MediaPlan) -> float | None:
    """The length that prices an edit: a local source's own, which a `source_duration` may not contradict."""
    local = plan.source_seconds
    if local is None:
        return given
    if given is not None and math.ceil(given) != math.ceil(local):
        raise InvalidArgumentError(
            f"Invalid argument source_duration: {given:g} s was given, but the local video lasts {local:.1f} s, and "
            "a local file's own length prices the job. Leave source_duration out for a local file. Nothing was "
            "submitted."
        )
    return local


@dataclass(frozen=True)
class PricedCall:
    """A call checked and priced, before anyone pays: its local files and destination, the limits and what is
    committed today, the earlier job of its key; whether the user must be asked, from its price and limits. A clip
    (`Quote`) and a film (`jobs/films.py`'s `FilmQuote`) add what they price."""

    request: CallControls
    plan: MediaPlan
    limits: SpendLimits
    committed: Committed
    earlier: Job | None = None

    @property
    def left_today(self) -> float:
        return self.limits.left_today(self.committed)

    @property
    def usd(self) -> float:
        raise NotImplementedError

    @property
    def preapproved(self) -> bool:
        """`max_cost_usd` at or above the price: the user agreed to it before the call."""
        cap = self.request.max_cost_usd
        return cap is not None and cap >= self.usd

    def needs_consent(
        self, *, client_can_ask: bool, why_not: str = "this MCP client cannot ask the user to confirm"
    ) -> bool:
        """Whether the user must be asked before this is paid for. A retry of a known key pays nothing; a price at
        or below HAPPYHORSE_CONFIRM_ABOVE_USD needs no question. Above it, a client that cannot ask (no elicitation,
        or `why_not`) goes on only when `max_cost_usd` covers the price, and is otherwise refused with what to do."""
        usd, limits = self.usd, self.limits
        if self.earlier is not None or usd <= limits.confirm_above_usd:
            return False
        if client_can_ask:
            return True
        if self.preapproved:
            return False
        raise NotConfirmedError(
            f"This job is estimated at USD {usd:.2f}, above USD {limits.confirm_above_usd:.2f} "
            f"(HAPPYHORSE_CONFIRM_ABOVE_USD), and {why_not}. Nothing was "
            f"submitted. Once the user has agreed to the price, call again with max_cost_usd={usd:.2f} (or more)."
        )


@dataclass(frozen=True, kw_only=True)
class Quote(PricedCall):
    """A request checked and priced: what it costs, against what limits, and the earlier job of its key."""

    request: GenerationRequest
    cost: CostEstimate

    @property
    def usd(self) -> float:
        return self.cost.usd

    @property
    def question(self) -> str:
        """What the user is asked: what they pay for, how much, and what is left of today's budget."""
        cost, prompt = self.cost, self.request.prompt
        live = f" ({cost.price_source})" if cost.price_source != TABLE else ""
        shown = ""
        if prompt:
            cut = prompt if len(prompt) <= PROMPT_SHOWN_IN_QUESTION else prompt[: PROMPT_SHOWN_IN_QUESTION - 3] + "..."
            shown = f' of "{cut}"'
        return (
            f"Make the video{shown} for USD {cost.usd:.2f}? ({cost.operation}, {cost.seconds_billed} s billed at USD "
            f"{cost.rate_usd_per_second:.2f}/s{live}, {cost.resolution}, HappyHorse {cost.version}.) USD "
            f"{self.left_today:.2f} of today's budget is left."
        )


def consented(answer: str, confirmed: bool) -> None:
    """Go on only when the user accepted and confirmed; otherwise say how they answered."""
    if answer == "accept" and confirmed:
        return
    how = {"accept": "answered no", "decline": "declined", "cancel": "dismissed the question"}.get(answer, answer)
    raise NotConfirmedError(f"The user did not confirm the price (they {how}). Nothing was submitted or billed.")


class Generation:
    """Quote and start generation jobs on one runner, spend guard and fal storage."""

    def __init__(
        self,
        *,
        runner: JobRunner,
        guard: SpendGuard,
        storage: FalStorage,
        has_credentials: bool = True,
        accounts: FalAccounts | None = None,
    ) -> None:
        self._runner = runner
        self._guard = guard
        self._storage = storage
        self._has_credentials = has_credentials
        self._accounts = accounts

    async def quote(self, request: GenerationRequest, places: Places) -> Quote:
        owner = request.principal.user
        # A caller who may not pay is refused before any file of theirs is looked at, as a film's caller is.
        earlier = await earlier_if_may_pay(
            request.principal,
            request.idempotency_key,
            runner=self._runner,
            has_credentials=self._has_credentials,
            accounts=self._accounts,
        )
        if earlier is not None:  # a retry: the earlier job is returned, nothing new is paid for
            # Its files are not looked at again: they were checked and sent the first time, and may be gone since.
            unread = MediaPlan()
            return Quote(
                request=request,
                plan=unread,
                cost=price(request, unread)[0],
                limits=self._guard.limits,
                committed=Committed(),
                earlier=earlier,
            )
        plan = await anyio.to_thread.run_sync(places.plan, request.spec, request.arguments)
        cost, assumption = price(request, plan)
        # Refuse what the limits refuse before anyone is asked to pay; admission checks again, atomically.
        spend = Spend(cost.usd, owner, max_cost_usd=request.max_cost_usd)
        committed = await self._guard.check(spend, hint=assumption)
        return Quote(request=request, plan=plan, cost=cost, limits=self._guard.limits, committed=committed)

    async def start(self, quote: Quote, *, task: TaskHandle | None = None) -> Job:
        """Upload the checked local files, admit the job and submit it once; returns it as fal's answer left it
        (or the earlier job of a known key, with nothing uploaded or paid)."""
        request = quote.request
        owner = request.principal.user
        own_key, storage = await self._accounts.account_for(owner) if self._accounts else (False, self._storage)
        sent = request.fal_arguments
        # The caller's own arguments (local paths as named) identify the call, so a retry is recognised whatever URL
        # fal storage gave the files.
        uploaded = sent if quote.earlier is not None else await upload_local_inputs(storage, quote.plan, sent)
        return await self._runner.submit(
            JobDraft(
                request.spec.operation,
                quote.cost.endpoint,
                uploaded,
                quote.cost.usd,
                owner=owner,
                sent_by_caller=sent,
                idempotency_key=request.idempotency_key,
                max_cost_usd=request.max_cost_usd,
                save_to=quote.plan.save_to,
                task=task,
                own_fal_key=own_key,
            )
        )


async def upload_local_inputs(storage: FalStorage, plan: MediaPlan, arguments: dict[str, Any]) -> dict[str, Any]:
    """Replace each checked local path in the fal arguments with the URL fal storage gives it."""
    updated = {k: list(v) if isinstance(v, list) else v for k, v in arguments.items()}
    for name, local in plan.local.items():
        url = await storage.upload(local)
        key, _, index = name.partition(".")
        if index:
            updated[key][int(index)] = url
        else:
            updated[key] = url
    return updated
