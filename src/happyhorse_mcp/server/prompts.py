"""MCP prompts that teach HappyHorse's conventions: what a good shot prompt holds, character1.., @Image1.."""

import functools
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.prompts import Prompt
from pydantic import Field

from ..domain.catalog import MAX_DURATION, MAX_EDIT_SOURCE_SECONDS, MIN_DURATION, MIN_EDIT_SOURCE_SECONDS
from ..domain.film import MAX_SHOTS, MAX_TRANSITION_SECONDS, MIN_SHOTS, MIN_TRANSITION_SECONDS
from .shelf import Shelf


def register_prompts(mcp: MCPServer[Any]) -> None:
    for prompt in _prompts():
        mcp.add_prompt(prompt)


@functools.cache
def _prompts() -> tuple[Prompt, ...]:
    """The prompts, built once per process (the SDK makes a pydantic model for each), as the tools are."""
    shelf = Shelf(Prompt.from_function)
    _define(shelf)
    return tuple(shelf.made)


def _define(shelf: Shelf[Prompt]) -> None:
    @shelf.put(
        name="cinematic_shot",
        title="Cinematic shot",
        description="Write and make one cinematic text-to-video shot: subject, action, setting, camera, light, sound.",
    )
    def cinematic_shot(
        subject: Annotated[str, Field(description="Who or what the shot is about, e.g. 'a grey mare'.")],
        action: Annotated[str, Field(description="What happens, e.g. 'gallops through shallow surf'.")],
        setting: Annotated[str, Field(description="Where and when, e.g. 'a misty beach at dawn'.")],
        camera: Annotated[str, Field(description="The camera move in words, e.g. 'slow dolly-in'.")] = "static camera",
        light: Annotated[str, Field(description="Light and mood, e.g. 'soft golden backlight'.")] = "natural light",
        sound: Annotated[str, Field(description="What we hear: ambience, effects, spoken lines.")] = "ambient sound",
        duration: Annotated[str, Field(description=f"Seconds, {MIN_DURATION} to {MAX_DURATION}.")] = "5",
    ) -> str:
        return (
            f"Make a video of {duration} seconds with HappyHorse (generate_video). First call estimate_cost for "
            f"text-to-video with duration {duration} and tell me the price.\n\n"
            "Write the prompt as one flowing paragraph in this order: subject and action, setting, camera move, "
            "light, sound. Ask for the camera move in words (the model has no camera parameter) and describe the "
            "sound, since audio is always generated.\n\n"
            f"Subject: {subject}\nAction: {action}\nSetting: {setting}\nCamera: {camera}\nLight: {light}\n"
            f"Sound: {sound}\n\nThen call generate_video with that prompt and duration {duration}. If it returns "
            "status 'queued' or 'running', call get_job with its job_id until the video is ready, and show me the link."
            f"\n\nOne shot is at most {MAX_DURATION} s. If what I want is longer, or is told in several shots (a "
            "scene, an ad, a short), plan a film with the storyboard prompt and make it with make_film instead of "
            "separate clips."
        )

    @shelf.put(
        name="product_showcase",
        title="Product showcase",
        description="A short product video from a product photo, with the product kept exact (reference-to-video).",
    )
    def product_showcase(
        product_image: Annotated[str, Field(description="The product photo: https URL or a local path.")],
        product: Annotated[str, Field(description="What the product is, e.g. 'a ceramic pour-over coffee set'.")],
        scene: Annotated[str, Field(description="Where it is shown, e.g. 'a sunlit kitchen counter'.")],
        duration: Annotated[str, Field(description=f"Seconds, {MIN_DURATION} to {MAX_DURATION}.")] = "8",
    ) -> str:
        return (
            f"Make a product video of {duration} seconds with HappyHorse reference_to_video, using image_urls "
            f"[{product_image!r}]. In the prompt, the product is character1: keep its shape, colours and label "
            f"exactly. Product: {product}. Scene: {scene}. Describe one clear camera move (for example a slow "
            "orbit or a push-in to a close-up), soft studio light, and quiet fitting sound. Estimate the cost "
            "first with estimate_cost (reference-to-video) and tell me the price before making it."
        )

    @shelf.put(
        name="subject_swap",
        title="Subject swap",
        description="Replace a subject in an existing video with the one in a reference image (edit_video).",
    )
    def subject_swap(
        video: Annotated[
            str,
            Field(
                description=f"The source video (MP4/MOV, {MIN_EDIT_SOURCE_SECONDS}-{MAX_EDIT_SOURCE_SECONDS} s): "
                "https URL or local path."
            ),
        ],
        replace: Annotated[str, Field(description="What to replace in the video, e.g. 'the rider'.")],
        reference_image: Annotated[str, Field(description="The new subject: https URL or local path.")],
        keep_audio: Annotated[str, Field(description="'yes' keeps the source audio, 'no' generates new.")] = "yes",
    ) -> str:
        audio = "origin" if keep_audio.strip().lower() in ("yes", "y", "true") else "auto"
        return (
            f"Edit the video {video!r} with HappyHorse edit_video: replace {replace} with @Image1, keeping the "
            f"motion, framing and everything else. Pass reference_image_urls [{reference_image!r}] and "
            f"audio_setting '{audio}'. Write the prompt naming the reference as @Image1, e.g. 'Replace {replace} "
            "with @Image1.' An edit is billed on the source's length plus the output's: estimate it first with "
            "estimate_cost (video-edit, with source_duration) and tell me the price."
        )

    @shelf.put(
        name="storyboard",
        title="Storyboard a film",
        description=f"Plan a film of {MIN_SHOTS}-{MAX_SHOTS} shots (a story, an ad, a short) and make it with "
        "make_film: a shared subject block, shot grammar, durations, joins.",
    )
    def storyboard(
        story: Annotated[str, Field(description="What happens, e.g. 'a lighthouse keeper rescues a lost gull'.")],
        seconds: Annotated[str, Field(description="About how long the film runs, e.g. '30'.")] = "30",
        look: Annotated[str, Field(description="The look: light, lens, palette, era.")] = "natural light, 35 mm film",
    ) -> str:
        return (
            f"Plan a film of about {seconds} seconds with HappyHorse, then make it with make_film.\n\nStory: {story}"
            f"\nLook: {look}\n\n"
            "1. Write the style block once: who or what recurs (appearance, clothing, colours, the place) and the "
            "look. make_film puts it before every shot's prompt, since each shot is made on its own; it keeps the "
            "film consistent.\n"
            f"2. Break the story into {MIN_SHOTS}-{MAX_SHOTS} shots of {MIN_DURATION}-{MAX_DURATION} s each whose "
            "lengths add up to the film's (each crossfade overlaps two shots by its length). Give each shot one "
            "subject, one action and one camera move in words (wide establishing shot, medium, close-up, insert; "
            "slow dolly-in, pan, static), and its sound (ambience, effects, spoken lines).\n"
            "3. Mark continue_from_previous on a shot that carries on the shot before in the same place (it starts "
            "from that shot's last frame); start a shot fresh for a new place or angle; give reference_image_urls "
            "to a fresh shot to keep a character or product exact.\n"
            f"4. Join with crossfades ({MIN_TRANSITION_SECONDS:g}-{MAX_TRANSITION_SECONDS:g} s, default 0.5) for "
            "flowing films, cuts for fast ones.\n\n"
            "Show me the storyboard as a numbered list (prompt, seconds, continue or fresh) before calling "
            "make_film: make_film asks me once for the whole film's price before anything is spent. Then call "
            "get_job with its job_id until the film is ready, and review_video it to check its joins."
        )
