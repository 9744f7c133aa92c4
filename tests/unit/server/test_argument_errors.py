"""Arguments the schemas refuse are told in plain words: the argument, the value given, the rule it breaks, and for a
tool that pays, that nothing was submitted."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from happyhorse_mcp.server.argument_errors import explain


class Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Annotated[str, Field(min_length=1)]
    duration: Annotated[int, Field(ge=3, le=15)] = 5
    resolution: Literal["720p", "1080p"] = "1080p"


def _refusal(**given: object) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        Arguments.model_validate(given)
    return refused.value


def test_each_refused_argument_is_a_sentence_naming_the_value_and_the_rule() -> None:
    said = explain(_refusal(prompt="", duration=40, resolution="4k", colour="red"), submits=True)
    assert "Invalid argument prompt: '' was given; it must not be empty." in said
    assert "Invalid argument duration: 40 was given; it must be at most 15." in said
    assert "Invalid argument resolution: '4k' was given; it must be one of '720p' or '1080p'." in said
    assert "Unknown argument colour: this tool has no such argument." in said
    assert said.endswith("Nothing was submitted.")


def test_a_missing_argument_is_named_and_a_free_tool_does_not_speak_of_submitting() -> None:
    said = explain(_refusal(duration=5), submits=False)
    assert said == "Missing argument prompt: it is required."


def test_a_long_value_is_summarised_not_repeated() -> None:
    said = explain(_refusal(prompt="x", duration="y" * 500), submits=False)
    assert "a text of 500 characters" in said
    assert "y" * 100 not in said
