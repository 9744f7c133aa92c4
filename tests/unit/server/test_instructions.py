"""The server's instructions say once what every tool shares: each price from the catalog, the arguments every
generation tool takes, and when a film beats separate clips."""

from __future__ import annotations

from happyhorse_mcp.domain.catalog import ASPECT_RATIOS, SPECS, price_sentence
from happyhorse_mcp.domain.film import FILM_TOOLS, MAX_SHOTS, FilmKind
from happyhorse_mcp.jobs.generation import CONTROL_ARGUMENTS
from happyhorse_mcp.server.instructions import INSTRUCTIONS


def _line(start: str) -> str:
    return next(line for line in INSTRUCTIONS.splitlines() if line.startswith(start))


def test_every_price_is_the_catalog_s_and_tools_sharing_a_rule_are_named_together() -> None:
    prices = _line("Prices:")
    for spec in SPECS.values():
        assert price_sentence(spec).removeprefix("Price: ") in prices
    assert "generate_video, image_to_video, reference_to_video:" in prices
    assert prices.count("USD 0.14/s at 720p") == 1, "a rule shared by three tools is said once"


def test_the_arguments_every_generation_tool_takes_are_explained_once() -> None:
    shared = _line("Every tool that makes a video takes:")
    for name in (*CONTROL_ARGUMENTS, "seed", "version"):
        assert f"{name} (" in shared
    assert all(ratio in shared for ratio in ASPECT_RATIOS["1.1"] if ratio not in ASPECT_RATIOS["1.0"])


def test_a_longer_story_is_sent_to_make_film_not_to_separate_clips() -> None:
    films = _line("Films:")
    assert f"call {FILM_TOOLS[FilmKind.FILM]} (2-{MAX_SHOTS}" in films
    assert "continue_from_previous" in films
    assert "storyboard prompt" in films
