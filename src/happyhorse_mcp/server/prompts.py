"""MCP prompts that teach HappyHorse's conventions: what a good shot prompt holds, character1.., @Image1.."""

from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field

from ..domain.catalog import MAX_DURATION, MAX_EDIT_SOURCE_SECONDS, MIN_DURATION, MIN_EDIT_SOURCE_SECONDS


def register_prompts(mcp: MCPServer[Any]) -> None:
    @mcp.prompt(
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
        )

    @mcp.prompt(
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

    @mcp.prompt(
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
