"""Each error says what it means for a job at fal: whether a failed read is waited out (and with which patience),
and how a job it ends is recorded. A new fal error kind is one class with these two, and its line here."""

from __future__ import annotations

import pytest

from happyhorse_mcp.domain import errors
from happyhorse_mcp.domain.errors import HappyHorseError


def _every_error() -> list[type[HappyHorseError]]:
    found: list[type[HappyHorseError]] = []
    todo: list[type[HappyHorseError]] = [HappyHorseError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


POLICY = {
    "FalSideError": ("outage", "failed"),
    "UnknownOutcome": ("final", "unknown"),
    "InvalidKeyError": ("refused", "failed"),
    "NoBalanceError": ("refused", "failed"),
    "AccountLockedError": ("refused", "failed"),
    "RateLimitedError": ("outage", "failed"),
    "UpstreamError": ("outage", "failed"),
    "ProtocolError": ("unreadable", "failed"),
    "JobNotFoundError": ("gone", "failed"),
    "NoVideoYetError": ("gone", "failed"),
    "SubmitUncertainError": ("final", "unknown"),
    "OutcomeUnknownError": ("final", "unknown"),
    "ModelRunError": ("final", "failed"),
    "FalValidationError": ("final", "failed"),
    "ContentPolicyError": ("final", "failed"),
}


@pytest.mark.parametrize("cls", _every_error(), ids=lambda cls: cls.__name__)
def test_every_error_says_what_a_failed_read_means_and_how_a_job_it_ends_is_recorded(
    cls: type[HappyHorseError],
) -> None:
    assert cls.while_following in ("final", "refused", "unreadable", "outage", "gone")
    assert cls.ends_job_as in ("failed", "unknown")
    if cls.__name__ in POLICY:
        assert (cls.while_following, cls.ends_job_as) == POLICY[cls.__name__]
    else:  # the server's own refusals (arguments, budget, files) never reach a job at fal
        assert (cls.while_following, cls.ends_job_as) == ("final", "failed"), cls.__name__


def test_fal_s_word_that_a_run_failed_ends_it_failed_and_what_hides_the_outcome_ends_it_unknown() -> None:
    fal_says_failed: list[type[HappyHorseError]] = [
        errors.ModelRunError,
        errors.FalValidationError,
        errors.ContentPolicyError,
    ]
    outcome_hidden: list[type[HappyHorseError]] = [errors.SubmitUncertainError, errors.OutcomeUnknownError]
    assert {cls.ends_job_as for cls in fal_says_failed} == {"failed"}
    assert {cls.ends_job_as for cls in outcome_hidden} == {"unknown"}


BRANCHES = (errors.CallerError, errors.AccountError, errors.FalSideError, errors.UnknownOutcome, errors.ServerSideError)


@pytest.mark.parametrize("cls", _every_error(), ids=lambda cls: cls.__name__)
def test_every_error_sits_in_exactly_one_branch_of_who_must_act(cls: type[HappyHorseError]) -> None:
    if cls is HappyHorseError:
        return
    assert sum(issubclass(cls, branch) for branch in BRANCHES) == 1, cls.__name__
