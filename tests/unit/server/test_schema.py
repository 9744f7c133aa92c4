"""Compact schemas drop what a model does not use and say the same to a validator."""

from __future__ import annotations

from typing import Annotated, Any

import jsonschema
import pytest
from pydantic import BaseModel, Field

from happyhorse_mcp.server.schema import compact


class Example(BaseModel):
    name: Annotated[str, Field(description="A name.", max_length=5)]
    seed: Annotated[int | None, Field(ge=0, description="Optional.")] = None
    note: str | None = None
    tags: list[str] = []


SCHEMA = Example.model_json_schema()


def test_titles_and_null_defaults_go_and_optional_types_become_type_lists() -> None:
    small = compact(SCHEMA)
    assert "title" not in small
    assert all("title" not in prop for prop in small["properties"].values())
    assert small["properties"]["note"] == {"type": ["string", "null"]}
    assert small["properties"]["seed"] == {"description": "Optional.", "minimum": 0, "type": ["integer", "null"]}


def test_output_schemas_lose_their_descriptions_but_keep_their_shape() -> None:
    small = compact(SCHEMA, keep_descriptions=False)
    assert "description" not in small["properties"]["name"]
    assert small["properties"]["name"]["maxLength"] == 5


def test_a_property_named_title_or_description_is_kept() -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}, "description": {"type": "string"}}}
    assert set(compact(schema, keep_descriptions=False)["properties"]) == {"title", "description"}


@pytest.mark.parametrize(
    "instance",
    [
        {"name": "ab"},
        {"name": "ab", "seed": None, "note": None},
        {"name": "ab", "seed": 3, "note": "x", "tags": ["a"]},
        {"name": "toolong"},
        {"name": "ab", "seed": -1},
        {"name": "ab", "note": 3},
        {"seed": 1},
    ],
)
def test_the_compact_schema_accepts_and_refuses_what_the_full_one_does(instance: dict[str, Any]) -> None:
    def valid(schema: dict[str, Any]) -> bool:
        return jsonschema.Draft202012Validator(schema).is_valid(instance)

    assert valid(compact(SCHEMA)) == valid(SCHEMA)
