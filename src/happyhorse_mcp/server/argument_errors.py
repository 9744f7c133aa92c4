"""Arguments the tool schemas refuse, told in the words of the server's own checks: the argument, the rule, the value
given, and that nothing was submitted. pydantic's own text (types in brackets, a documentation link per error) is
written for programmers; a model and a person read this."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

VALUE_SHOWN = 80

# What each constraint pydantic checks means, with its limit from the error's context.
_RULES: Mapping[str, str] = {
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "string_too_short": "must have at least {min_length} character(s)",
    "string_too_long": "must have at most {max_length} characters",
    "too_short": "must list at least {min_length} item(s)",
    "too_long": "must list at most {max_length} item(s)",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be an object",
}


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) <= VALUE_SHOWN:
        return text
    if isinstance(value, str):
        return f"a text of {len(value)} characters ({text[:40]}...)"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return f"{text[: VALUE_SHOWN - 3]}..."


def _sentence(error: ErrorDetails) -> str:
    name = ".".join(str(part) for part in error["loc"]) or "arguments"
    kind = error["type"]
    if kind == "missing":
        return f"Missing argument {name}: it is required."
    if kind == "extra_forbidden":
        return f"Unknown argument {name}: this tool has no such argument."
    context = error.get("ctx") or {}
    if kind == "value_error":
        # A validator's own words: pydantic prefixes them with "Value error, ".
        rule = str(context.get("error", error["msg"])).removeprefix("Value error, ")
    elif kind in ("string_too_short", "too_short") and context.get("min_length") == 1:
        rule = "must not be empty"
    elif kind in _RULES:
        rule = _RULES[kind].format(**context)
    else:
        rule = error["msg"][:1].lower() + error["msg"][1:]
    return f"Invalid argument {name}: {_shown(error['input'])} was given; it {rule}."


def explain(exc: ValidationError, *, submits: bool) -> str:
    """One sentence per refused argument; for a tool that pays for jobs, that nothing was sent to fal."""
    sentences = [_sentence(error) for error in exc.errors(include_url=False)]
    if submits:
        sentences.append("Nothing was submitted.")
    return " ".join(sentences)
