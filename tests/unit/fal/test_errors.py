"""Every answer fal can give to a failed request maps to one error, whose message says what to do next."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from happyhorse_mcp.domain.errors import (
    AccountLockedError,
    ContentPolicyError,
    FalValidationError,
    HappyHorseError,
    InvalidKeyError,
    JobNotFoundError,
    ModelRunError,
    NoBalanceError,
    RateLimitedError,
    UpstreamError,
    error_type,
)
from happyhorse_mcp.fal.errors import error_from_response, retry_after


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers or {})


def mapped(response: httpx.Response) -> HappyHorseError:
    return error_from_response(response, doing="testing")


def test_a_401_is_an_invalid_key_that_says_where_to_make_a_new_one() -> None:
    error = mapped(answer(401, {"detail": "Invalid authentication credentials"}))
    assert isinstance(error, InvalidKeyError)
    assert "FAL_KEY" in error.message
    assert "fal.ai/dashboard/keys" in error.message


@pytest.mark.parametrize("status", [402, 403])
def test_an_exhausted_balance_says_to_top_up(status: int) -> None:
    error = mapped(answer(status, {"detail": "User is locked. Reason: Exhausted balance. Top up your balance."}))
    assert isinstance(error, NoBalanceError)
    assert "dashboard/billing" in error.message


def test_a_402_without_detail_is_still_no_balance() -> None:
    assert isinstance(mapped(answer(402, {"detail": "Payment required"})), NoBalanceError)


def test_a_locked_account_names_support() -> None:
    error = mapped(answer(403, {"detail": "User is locked. Reason: suspicious activity"}))
    assert isinstance(error, AccountLockedError)
    assert "support@fal.ai" in error.message


def test_any_other_403_is_a_key_without_api_access() -> None:
    error = mapped(answer(403, {"detail": "Forbidden"}))
    assert isinstance(error, InvalidKeyError)
    assert "API access" in error.message


def test_a_404_says_the_request_is_unknown_or_expired() -> None:
    error = mapped(answer(404, {"detail": "Request not found"}))
    assert isinstance(error, JobNotFoundError)
    assert "1 hour" in error.message


def test_a_429_carries_retry_after() -> None:
    error = mapped(answer(429, {"detail": "slow down"}, {"Retry-After": "7"}))
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 7.0


def test_a_422_names_each_field_and_its_message() -> None:
    detail = [
        {"loc": ["body", "image_url"], "msg": "Image too small", "type": "image_too_small"},
        {"loc": ["body", "duration"], "msg": "Input should be 3..15", "type": "value_error"},
    ]
    error = mapped(answer(422, {"detail": detail}))
    assert isinstance(error, FalValidationError)
    assert "image_url: Image too small" in error.message
    assert "duration: Input should be 3..15" in error.message


def test_a_422_content_policy_violation_asks_for_another_prompt_or_image() -> None:
    detail = [{"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"}]
    error = mapped(answer(422, {"detail": detail}))
    assert isinstance(error, ContentPolicyError)
    assert "prompt: flagged" in error.message
    assert error_type(error) == "content_policy_violation"


def test_a_422_with_a_plain_string_detail_is_read_as_one_problem() -> None:
    error = mapped(answer(422, {"detail": "bad input"}))
    assert isinstance(error, FalValidationError)
    assert "input: bad input" in error.message


def test_a_4xx_model_run_error_keeps_fal_s_error_type_from_the_header_or_the_body() -> None:
    from_header = mapped(answer(400, {"detail": "Request was cancelled"}, {"X-Fal-Error-Type": "request_cancelled"}))
    from_body = mapped(answer(400, {"detail": "boom", "error_type": "startup_timeout"}))
    assert isinstance(from_header, ModelRunError)
    assert error_type(from_header) == "request_cancelled"
    assert isinstance(from_body, ModelRunError)
    assert error_type(from_body) == "startup_timeout"


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (504, {"detail": "Request timed out"}, {"X-Fal-Error-Type": "request_timeout"}),
        (500, {"detail": "boom", "error_type": "runner_scheduling_failure"}, {}),
    ],
)
def test_a_5xx_naming_an_error_type_is_a_failed_request_not_fal_s_word_on_the_run(
    status: int, body: dict[str, str], headers: dict[str, str]
) -> None:
    error = mapped(answer(status, body, headers))
    assert isinstance(error, UpstreamError)
    assert f"HTTP {status}" in error.message
    assert "fal does not bill 5xx" in error.message


def test_a_plain_5xx_is_an_upstream_error_that_says_fal_does_not_bill_it() -> None:
    error = mapped(answer(503, b"<html>busy</html>"))
    assert isinstance(error, UpstreamError)
    assert "HTTP 503" in error.message
    assert error.status_code == 503


def test_any_other_status_quotes_fal_s_detail() -> None:
    error = mapped(answer(418, {"detail": "teapot"}))
    assert isinstance(error, UpstreamError)
    assert "HTTP 418" in error.message
    assert "teapot" in error.message


@pytest.mark.parametrize(("header", "seconds"), [("3", 3.0), ("-2", 0.0), ("soon", None), (None, None)])
def test_retry_after_is_read_in_seconds_and_never_negative(header: str | None, seconds: float | None) -> None:
    headers = {"Retry-After": header} if header is not None else {}
    assert retry_after(httpx.Response(429, headers=headers)) == seconds


def test_a_5xx_with_a_detail_list_is_the_model_s_own_failure_not_an_outage() -> None:
    detail = [{"loc": ["body"], "msg": "The model crashed", "type": "model_error"}]
    error = mapped(answer(500, {"detail": detail}))
    assert isinstance(error, ModelRunError)
    assert error_type(error) == "model_error"
    assert "The model crashed" in error.message
