"""README's "Make a film" storyboard is a valid storyboard, and the price and length README gives for it are the
server's own."""

from __future__ import annotations

import json
import re
from pathlib import Path

from happyhorse_mcp.domain.film import Storyboard, price_film

README = Path(__file__).parents[2] / "README.md"


def test_the_readme_s_storyboard_costs_and_lasts_what_the_readme_says() -> None:
    section = README.read_text().split("## Make a film", 1)[1].split("\n## ", 1)[0]
    example = json.loads(re.search(r"```json\n(.*?)```", section, re.DOTALL).group(1))  # type: ignore[union-attr]
    price = price_film(Storyboard.model_validate(example))
    assert f"USD {price.usd:.2f}" in section
    assert f"({price.seconds:g} s here)" in section
