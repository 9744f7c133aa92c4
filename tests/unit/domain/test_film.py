"""A storyboard is checked before anything is priced, each shot is the fal job its start calls for, the style goes
before every prompt, and the whole film has one price: its shots' prices added, exact to the cent."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from happyhorse_mcp.domain.catalog import IMAGE_TO_VIDEO, REFERENCE_TO_VIDEO, TEXT_TO_VIDEO
from happyhorse_mcp.domain.film import Shot, Storyboard, price_film

from ...prices import usd

BOARD = Storyboard(
    style="A grey mare, misty beach at dawn, 35 mm film look.",
    shots=[
        Shot(prompt="Wide shot, the mare stands at the water's edge", duration=5),
        Shot(prompt="She breaks into a gallop", duration=4, continue_from_previous=True),
        Shot(prompt="Close-up of her eye", duration=3, reference_image_urls=["https://example.com/mare.png"]),
        Shot(prompt="She slows to a walk", duration=6, continue_from_previous=True),
    ],
)


def test_each_shot_is_the_job_its_start_calls_for_and_waits_for_the_shot_it_continues() -> None:
    assert [BOARD.spec(i) for i in range(4)] == [TEXT_TO_VIDEO, IMAGE_TO_VIDEO, REFERENCE_TO_VIDEO, IMAGE_TO_VIDEO]
    assert [BOARD.depends_on(i) for i in range(4)] == [None, 0, None, 2]
    assert BOARD.prompt(1) == "A grey mare, misty beach at dawn, 35 mm film look.\n\nShe breaks into a gallop"


def test_the_film_has_one_price_the_sum_of_its_shots_and_lasts_the_plan_less_its_crossfades() -> None:
    price = price_film(BOARD)
    expected = [usd(duration=5), usd("image_to_video", duration=4), usd("reference_to_video", duration=3)]
    expected.append(usd("image_to_video", duration=6))
    assert [shot.usd for shot in price.shots] == expected
    assert price.usd == round(sum(expected), 2)
    assert price.seconds == 5 + 4 + 3 + 6 - 3 * 0.5
    cut = BOARD.model_copy(update={"transition": "cut"})
    assert price_film(cut).seconds == 18


@pytest.mark.parametrize(
    ("board", "complaint"),
    [
        ({"shots": [{"prompt": "only one"}]}, "at least 2"),
        ({"shots": [{"prompt": "a"}, {"prompt": "b", "duration": 20}]}, "less than or equal to 15"),
        ({"shots": [{"prompt": "a", "continue_from_previous": True}, {"prompt": "b"}]}, "no previous shot"),
        (
            {
                "shots": [
                    {"prompt": "a"},
                    {
                        "prompt": "b",
                        "continue_from_previous": True,
                        "reference_image_urls": ["https://example.com/u.png"],
                    },
                ]
            },
            "takes no reference images",
        ),
        ({"shots": [{"prompt": "a"}, {"prompt": "b"}], "transition_seconds": 2}, "less than or equal to 1"),
    ],
)
def test_a_storyboard_that_cannot_be_made_is_refused_saying_why(board: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Storyboard.model_validate(board)
