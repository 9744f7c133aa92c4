"""A call waits as long as its client can bear: what it asked with progress, at most the suggested wait without,
saying so; an unfinished job's result says what to do next."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from happyhorse_mcp.domain.catalog import Operation
from happyhorse_mcp.domain.errors import SUGGESTED_WAIT_SECONDS
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.server.tools._shared import bearable_wait, job_result


def _ctx(params: dict[str, Any]) -> Any:
    return SimpleNamespace(request_context=SimpleNamespace(params=params))


def test_a_client_that_asked_for_progress_waits_what_it_asked_and_one_that_did_not_at_most_the_bearable() -> None:
    with_progress = bearable_wait(_ctx({"_meta": {"progressToken": "p1"}}), 300)
    without = bearable_wait(_ctx({}), 300)
    short = bearable_wait(_ctx({}), 20)
    assert (with_progress.seconds, with_progress.note) == (300, "")
    assert without.seconds == SUGGESTED_WAIT_SECONDS
    assert "hosts without them give up on a call after about 60 s" in without.note
    assert (short.seconds, short.note) == (20, "")


def test_an_unfinished_job_s_result_names_it_and_says_to_wait_on_it_with_get_job() -> None:
    job = Job(
        job_id="hh_0123456789abcdef", status="queued", operation=Operation.TEXT_TO_VIDEO, endpoint="e", arguments={}
    )
    result = job_result(job, note="This call waited 50 s.")
    text = result.content[0].text  # type: ignore[union-attr]
    assert "hh_0123456789abcdef" in text
    assert "get_job" in text
    assert "This call waited 50 s." in text
    assert result.structured_content is not None
    assert result.structured_content["status"] == "queued"
