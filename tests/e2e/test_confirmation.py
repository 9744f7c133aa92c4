"""Above HAPPYHORSE_CONFIRM_ABOVE_USD the user confirms the price through elicitation before anything is sent."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from happyhorse_mcp.server import HappyHorseServer

from ..fakefal import FakeFal
from ..prices import dollars, usd

pytestmark = pytest.mark.anyio

DEAR = {"prompt": "a horse race", "duration": 15}  # above the default confirmation threshold
DEAR_USD = usd(duration=15)
CHEAP = {"prompt": "a horse", "duration": 5}  # below it
MODES = pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])


def _answering(action: Literal["accept", "decline", "cancel"], confirm: bool = True) -> Any:
    asked: list[str] = []

    async def callback(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action=action, content={"confirm": confirm} if action == "accept" else None)

    callback.asked = asked  # type: ignore[attr-defined]
    return callback


@MODES
async def test_a_job_above_the_threshold_is_submitted_once_the_user_confirms(
    server: HappyHorseServer, fake: FakeFal, mode: str
) -> None:
    answer = _answering("accept")
    async with Client(server, mode=mode, elicitation_callback=answer) as client:
        result = await client.call_tool("generate_video", DEAR)
    assert not result.is_error, result.content
    assert len(answer.asked) == 1
    assert dollars(DEAR_USD) in answer.asked[0]
    assert '"a horse race"' in answer.asked[0], "the user sees what they pay for"
    assert len(fake.submits) == 1


@MODES
@pytest.mark.parametrize(("action", "confirm"), [("decline", True), ("cancel", True), ("accept", False)])
async def test_a_declined_or_cancelled_confirmation_submits_nothing(
    server: HappyHorseServer, fake: FakeFal, mode: str, action: Literal["accept", "decline", "cancel"], confirm: bool
) -> None:
    async with Client(server, mode=mode, elicitation_callback=_answering(action, confirm)) as client:
        result = await client.call_tool("generate_video", DEAR)
    assert result.is_error
    assert "did not confirm" in result.content[0].text  # type: ignore[union-attr]
    assert "(accept)" not in result.content[0].text  # type: ignore[union-attr]
    assert "Nothing was submitted" in result.content[0].text  # type: ignore[union-attr]
    assert fake.requests == []


@MODES
async def test_a_job_at_or_below_the_threshold_is_not_asked_about(
    server: HappyHorseServer, fake: FakeFal, mode: str
) -> None:
    answer = _answering("decline")
    async with Client(server, mode=mode, elicitation_callback=answer) as client:
        result = await client.call_tool("generate_video", CHEAP)
    assert not result.is_error
    assert answer.asked == []


@MODES
async def test_a_client_that_cannot_elicit_is_told_to_pass_max_cost_usd(
    server: HappyHorseServer, fake: FakeFal, mode: str
) -> None:
    async with Client(server, mode=mode) as client:
        refused = await client.call_tool("generate_video", DEAR)
        allowed = await client.call_tool("generate_video", {**DEAR, "max_cost_usd": DEAR_USD})
    assert refused.is_error
    text = refused.content[0].text  # type: ignore[union-attr]
    assert "cannot ask the user to confirm" in text
    assert f"max_cost_usd={DEAR_USD:.2f}" in text
    assert not allowed.is_error
    assert len(fake.submits) == 1


async def test_a_retry_with_the_same_idempotency_key_is_not_asked_about_again(
    server: HappyHorseServer, fake: FakeFal
) -> None:
    answer = _answering("accept")
    async with Client(server, mode="legacy", elicitation_callback=answer) as client:
        first = await client.call_tool("generate_video", {**DEAR, "idempotency_key": "retry-me"})
        again = await client.call_tool("generate_video", {**DEAR, "idempotency_key": "retry-me"})
    assert first.structured_content is not None
    assert again.structured_content is not None
    assert again.structured_content["job_id"] == first.structured_content["job_id"]
    assert len(answer.asked) == 1
    assert len(fake.submits) == 1


async def test_a_job_the_limits_refuse_is_refused_without_asking(server: HappyHorseServer, fake: FakeFal) -> None:
    answer = _answering("accept")
    async with Client(server, mode="legacy", elicitation_callback=answer) as client:
        result = await client.call_tool("edit_video", {"video_url": "https://example.com/v.mp4", "prompt": "night"})
    assert result.is_error
    assert "HAPPYHORSE_MAX_USD_PER_JOB" in result.content[0].text  # type: ignore[union-attr]
    assert answer.asked == []


@MODES
async def test_an_answer_of_the_wrong_shape_says_what_was_wrong_never_an_internal_name(
    server: HappyHorseServer, fake: FakeFal, mode: str
) -> None:
    async def answer(context: Any, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": "maybe"})

    async with Client(server, mode=mode, elicitation_callback=answer) as client:
        result = await client.call_tool("generate_video", DEAR)
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "the answer to the price question was not a yes or a no" in text
    assert "Resolver" not in text
    assert "_generation" not in text
    assert fake.requests == []
