"""The prompts teach HappyHorse's conventions and name the right tools."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, TextContent

pytestmark = pytest.mark.anyio


async def _text(client: Client, name: str, arguments: dict[str, str]) -> str:
    result = await client.get_prompt(name, arguments)
    content = result.messages[0].content
    assert isinstance(content, TextContent)
    return content.text


async def test_the_four_prompts_are_listed_with_their_arguments(client: Client) -> None:
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(prompts) == {"cinematic_shot", "product_showcase", "subject_swap", "storyboard"}
    required = {name: {a.name for a in p.arguments or [] if a.required} for name, p in prompts.items()}
    assert required == {
        "cinematic_shot": {"subject", "action", "setting"},
        "product_showcase": {"product_image", "product", "scene"},
        "subject_swap": {"video", "replace", "reference_image"},
        "storyboard": {"story"},
    }


async def test_cinematic_shot_asks_for_camera_in_words_and_an_estimate_first(client: Client) -> None:
    text = await _text(
        client,
        "cinematic_shot",
        {"subject": "a grey mare", "action": "gallops", "setting": "a beach", "camera": "slow dolly-in"},
    )
    assert "slow dolly-in" in text
    assert "estimate_cost" in text
    assert "generate_video" in text
    assert "audio is always generated" in text
    assert "make_film" in text, "a longer story becomes a film, not separate clips"


async def test_storyboard_plans_a_shared_style_shots_and_joins_then_makes_one_film(client: Client) -> None:
    text = await _text(client, "storyboard", {"story": "a lighthouse keeper rescues a gull", "seconds": "40"})
    assert "about 40 seconds" in text
    assert "style block" in text
    assert "continue_from_previous" in text
    assert "reference_image_urls" in text
    assert "make_film" in text
    assert "review_video" in text


async def test_product_showcase_makes_the_product_character1(client: Client) -> None:
    text = await _text(
        client, "product_showcase", {"product_image": "https://e.com/p.png", "product": "a mug", "scene": "a desk"}
    )
    assert "character1" in text
    assert "reference_to_video" in text
    assert "https://e.com/p.png" in text


async def test_subject_swap_uses_image1_and_keeps_the_source_audio_when_asked(client: Client) -> None:
    text = await _text(
        client, "subject_swap", {"video": "/v/ride.mp4", "replace": "the rider", "reference_image": "/v/knight.png"}
    )
    assert "@Image1" in text
    assert "audio_setting 'origin'" in text
    assert "edit_video" in text
    swapped = await _text(
        client,
        "subject_swap",
        {"video": "/v/ride.mp4", "replace": "the rider", "reference_image": "/v/knight.png", "keep_audio": "no"},
    )
    assert "audio_setting 'auto'" in swapped


async def test_a_prompt_asked_for_without_its_required_arguments_names_the_missing_ones(client: Client) -> None:
    with pytest.raises(MCPError) as caught:
        await client.get_prompt("product_showcase", {"product": "a red kettle"})

    assert caught.value.code == INVALID_PARAMS
    assert caught.value.error.message == (
        "Prompt product_showcase needs the argument(s) product_image, scene "
        "(it takes: product_image, product, scene, duration)."
    )
