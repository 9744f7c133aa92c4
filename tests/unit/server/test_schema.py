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


def test_titles_and_null_defaults_go_and_an_optional_argument_keeps_its_one_type() -> None:
    small = compact(SCHEMA)
    assert "title" not in small
    assert all("title" not in prop for prop in small["properties"].values())
    assert small["properties"]["note"] == {"type": "string"}
    assert small["properties"]["seed"] == {"description": "Optional.", "minimum": 0, "type": "integer"}
    assert "seed" not in small.get("required", [])


def test_output_schemas_lose_their_descriptions_but_keep_their_shape_and_nulls_as_any_of() -> None:
    small = compact(SCHEMA, keep_descriptions=False, input_schema=False)
    assert "description" not in small["properties"]["name"]
    assert small["properties"]["name"]["maxLength"] == 5
    assert small["properties"]["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}


def _type_lists(node: Any) -> int:
    if isinstance(node, dict):
        return int(isinstance(node.get("type"), list)) + sum(_type_lists(value) for value in node.values())
    if isinstance(node, list):
        return sum(_type_lists(item) for item in node)
    return 0


def test_no_schema_of_any_tool_writes_a_type_list() -> None:
    import anyio

    from happyhorse_mcp.config import Settings
    from happyhorse_mcp.server import create_server

    tools = anyio.run(create_server(Settings(fal_key=None)).list_tools)
    assert sum(_type_lists(tool.input_schema) + _type_lists(tool.output_schema) for tool in tools) == 0


def test_a_property_named_title_or_description_is_kept() -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}, "description": {"type": "string"}}}
    assert set(compact(schema, keep_descriptions=False)["properties"]) == {"title", "description"}


@pytest.mark.parametrize(
    "instance",
    [
        {"name": "ab"},
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
    assert valid(compact(SCHEMA, input_schema=False)) == valid(SCHEMA)


def test_an_output_schema_still_takes_a_null_where_the_full_one_does() -> None:
    instance = {"name": "ab", "seed": None, "note": None}
    assert jsonschema.Draft202012Validator(compact(SCHEMA, input_schema=False)).is_valid(instance)


def test_servers_made_in_one_process_compact_each_schema_once_and_list_the_same() -> None:
    import anyio

    from happyhorse_mcp.config import Settings
    from happyhorse_mcp.server import create_server

    first, second = (anyio.run(create_server(Settings(fal_key=None)).list_tools) for _ in range(2))
    assert [tool.input_schema for tool in first] == [compact(tool.input_schema) for tool in first]
    for one, other in zip(first, second, strict=True):
        assert one.input_schema is other.input_schema
        assert one.output_schema is other.output_schema
