"""Each kind of setting reads its variable or says what was wrong with it, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from happyhorse_mcp.config import ConfigError, kinds


def test_a_url_must_be_http_or_https_and_loses_its_trailing_slash() -> None:
    assert kinds.url("https://queue.fal.run")["parse"]("V", "http://127.0.0.1:9/") == "http://127.0.0.1:9"
    with pytest.raises(ConfigError, match="V must be an http"):
        kinds.url("https://queue.fal.run")["parse"]("V", "ftp://example.com")


@pytest.mark.parametrize("value", ["-1", "abc", "inf", "nan"])
def test_an_amount_of_dollars_that_is_not_one_is_refused_saying_so(value: str) -> None:
    with pytest.raises(ConfigError, match="an amount of US dollars"):
        kinds.usd(1.0)["parse"]("HAPPYHORSE_MAX_USD_PER_JOB", value)


def test_a_count_is_a_whole_number_above_zero() -> None:
    assert kinds.count(5)["parse"]("N", "7") == 7
    for bad in ("0", "1.5", "x"):
        with pytest.raises(ConfigError, match="a whole number above 0"):
            kinds.count(5)["parse"]("N", bad)


def test_secrets_are_comma_separated_and_each_long_enough() -> None:
    long_one, other = "a" * 32, "b" * 40
    assert kinds.secrets("S", f"{long_one}, {other}") == (long_one, other)
    with pytest.raises(ConfigError, match="32"):
        kinds.secrets("S", f"{long_one},short")


def test_allowed_folders_must_be_absolute(tmp_path: Path) -> None:
    assert kinds.folders("F", str(tmp_path)) == (tmp_path,)
    with pytest.raises(ConfigError):
        kinds.folders("F", "relative/folder")
