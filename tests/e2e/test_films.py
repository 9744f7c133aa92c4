"""make_film and extend_video against the fake fal's real clips: one price and one question for the whole film,
shots that continue the previous one start from its last frame, one finished video with even sound; a failed shot
stops the film; a retry of its key pays nothing; a film over budget is refused before any submit."""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import Any

import anyio
import av
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult
from PIL import Image

from happyhorse_mcp.config import Settings
from happyhorse_mcp.domain.budget import SpendLimits
from happyhorse_mcp.media.assemble import TARGET_LUFS
from happyhorse_mcp.media.frames import last_frame_png
from happyhorse_mcp.media.joins import black_stretches, join_facts
from happyhorse_mcp.media.loudness import integrated_loudness, silences
from happyhorse_mcp.server import HappyHorseServer

from ..fakefal import FakeFal
from ..prices import dollars, usd
from ..support import make_server

pytestmark = pytest.mark.anyio

STYLE = "A grey mare on a misty beach at dawn, 35 mm film look."
SHOTS = [
    {"prompt": "Wide shot, the mare at the water's edge", "duration": 3},
    {"prompt": "She breaks into a gallop", "duration": 3, "continue_from_previous": True},
    {"prompt": "Close-up of her eye, waves behind", "duration": 3},
    {"prompt": "She slows to a walk", "duration": 4, "continue_from_previous": True},
]
FILM = {"shots": SHOTS, "style": STYLE, "transition": "crossfade", "transition_seconds": 0.5, "resolution": "1080p"}
FILM_USD = round(
    usd(duration=3) + usd("image_to_video", duration=3) + usd(duration=3) + usd("image_to_video", duration=4), 2
)
PLANNED_SECONDS = 3 + 3 + 3 + 4 - 3 * 0.5


def _answering() -> Any:
    asked: list[str] = []

    async def callback(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    callback.asked = asked  # type: ignore[attr-defined]
    return callback


def _frame_bytes_of(fake: FakeFal, url: str) -> bytes:
    key = url.split("/files/", 1)[1]
    return fake.uploads[key]


async def test_a_four_shot_film_is_priced_once_made_with_continuity_and_assembled_with_even_sound(
    server: HappyHorseServer, fake: FakeFal, tmp_path: Path
) -> None:
    fake.real_clips = True
    answer = _answering()
    async with Client(server, elicitation_callback=answer) as client:
        made = await client.call_tool("make_film", {**FILM, "wait_seconds": 120})
    assert not made.is_error, made.content
    film = made.structured_content
    assert film is not None
    assert film["status"] == "completed", film
    assert len(answer.asked) == 1, "one question for the whole film"
    assert dollars(FILM_USD) in answer.asked[0]
    assert "shot 4" in answer.asked[0]
    assert len(fake.submits) == 4, "each shot submitted once"
    assert film["cost_usd"] == FILM_USD
    assert [shot["status"] for shot in film["film"]["shots"]] == ["completed"] * 4
    assert all(STYLE in job.arguments["prompt"] for job in fake.submits)

    # The second shot starts from the first shot's last frame, as uploaded to fal's storage.
    first, second = (next(j for j in fake.submits if j.arguments["prompt"].endswith(s["prompt"])) for s in SHOTS[:2])
    assert "image-to-video" in second.endpoint_id
    clip = tmp_path / "first.mp4"
    clip.write_bytes(fake.uploads[f"{first.request_id}/output.mp4"])
    with (
        Image.open(BytesIO(_frame_bytes_of(fake, second.arguments["image_url"]))) as sent,
        Image.open(BytesIO(last_frame_png(clip))) as last,
    ):
        assert sent.tobytes() == last.tobytes()

    path = Path(film["local_file"]["path"])
    with av.open(str(path)) as container:
        assert len(container.streams.video) == 1
        assert len(container.streams.audio) == 1
        seconds = float(container.duration or 0) / av.time_base
    assert abs(seconds - PLANNED_SECONDS) <= 1 / 24, seconds  # within one frame
    joins = [3 - 0.25, 6 - 0.75, 9 - 1.25]
    assert all(not (start <= join <= end and end - start > 0.2) for start, end in silences(path) for join in joins)
    for start in (0.0, 2.5, 5.0, 7.5):
        loudness = integrated_loudness(path, start + 0.6, start + 2.2)
        assert loudness is not None
        assert abs(loudness - TARGET_LUFS) <= 2.0, (start, loudness)
    assert all(not facts.black for facts in join_facts(path, joins))


async def test_a_retry_of_a_films_key_returns_the_first_film_and_pays_nothing(
    server: HappyHorseServer, fake: FakeFal
) -> None:
    fake.real_clips = True
    board = {**FILM, "resolution": "720p", "idempotency_key": "ad-1", "wait_seconds": 120}
    async with Client(server) as client:
        first = await client.call_tool("make_film", board)
        again = await client.call_tool("make_film", {**board, "wait_seconds": 0})  # how long to wait is no part of it
    assert first.structured_content
    assert again.structured_content
    assert again.structured_content["job_id"] == first.structured_content["job_id"]
    assert len(fake.submits) == 4


async def test_a_film_over_the_budget_is_refused_whole_before_any_submit(settings: Settings, fake: FakeFal) -> None:
    server = make_server(replace(settings, limits=SpendLimits(daily_budget_usd=FILM_USD - 0.5)))
    async with Client(server) as client:
        refused = await client.call_tool("make_film", {**FILM, "max_cost_usd": 100})
    assert refused.is_error
    assert dollars(FILM_USD) in refused.content[0].text  # type: ignore[union-attr]
    assert fake.submits == []


async def test_a_shot_refused_by_the_content_checker_stops_the_film_and_says_what_was_billed(
    server: HappyHorseServer, fake: FakeFal
) -> None:
    fake.real_clips = True
    fake.outcomes = ["success", "content_policy"]  # the first shot made, the second refused
    chain = [{**shot, "continue_from_previous": index > 0} for index, shot in enumerate(SHOTS)]  # one after another
    board = {**FILM, "shots": chain, "resolution": "720p", "wait_seconds": 120}
    async with Client(server) as client:
        made = await client.call_tool("make_film", board)
    film = made.structured_content
    assert made.is_error
    assert film is not None
    assert film["status"] == "failed", film
    assert "Shot 2 of 4" in film["error"]["message"]
    assert "USD" in film["error"]["message"]
    assert film["cost_usd"] == usd(duration=3, resolution="720p")
    assert len(fake.submits) == 2, "nothing submitted after the refused shot"


async def _four_second_clip(client: Client) -> dict[str, Any]:
    """A finished 4 s clip to continue, as generate_video's structured result."""
    clip = await client.call_tool("generate_video", {"prompt": "a mare", "duration": 4, "resolution": "720p"})
    made: dict[str, Any] | None = clip.structured_content
    assert made is not None
    return made


async def test_extend_video_continues_a_finished_clip_from_its_last_frame_without_a_black_seam(
    server: HappyHorseServer, fake: FakeFal
) -> None:
    fake.real_clips = True
    async with Client(server) as client:
        job_id = (await _four_second_clip(client))["job_id"]
        extended = await client.call_tool(
            "extend_video", {"job_id": job_id, "seconds": 3, "prompt": "she turns to the sea", "resolution": "720p"}
        )
    result = extended.structured_content
    assert not extended.is_error, extended.content
    assert result is not None
    assert result["status"] == "completed"
    assert "last frame" in extended.content[0].text  # type: ignore[union-attr]
    assert result["cost_usd"] == usd("image_to_video", duration=3, resolution="720p")
    path = Path(result["local_file"]["path"])
    assert abs(result["video"]["duration"] - (4 + 3 - 0.5)) <= 1 / 24
    assert not [s for s in black_stretches(path) if s[0] <= 3.75 <= s[1]]


async def test_review_video_on_a_film_spans_it_and_looks_at_every_join(server: HappyHorseServer, fake: FakeFal) -> None:
    fake.real_clips = True
    board = {**FILM, "shots": SHOTS[:2], "resolution": "720p", "transition": "cut", "wait_seconds": 120}
    async with Client(server) as client:
        made = await client.call_tool("make_film", board)
        assert made.structured_content is not None
        reviewed = await client.call_tool("review_video", {"job_id": made.structured_content["job_id"]})
    review = reviewed.structured_content
    assert review is not None
    assert [join["at_seconds"] for join in review["joins"]] == [3.0]
    assert all(join["clean"] for join in review["joins"]), review["joins"]
    assert review["frames_at_seconds"][-1] > 3, "the contact sheet spans the whole film"
    # The planned length (the fake's clips are smaller than 720p, so only the duration is compared here).
    assert review["checks"][0] == {"name": "duration", "asked": "6.0 s", "made": "6.00 s", "matches": True}
    assert "Joins: at 0:03.0 clean" in reviewed.content[0].text  # type: ignore[union-attr]


async def _shots_started(client: Client, film_id: str, count: int) -> dict[str, Any]:
    """The film once `count` of its shots have jobs, waited for through get_job (it wakes on every change)."""
    with anyio.fail_after(20):
        while True:
            film: dict[str, Any] | None = (
                await client.call_tool("get_job", {"job_id": film_id, "wait_seconds": 1})
            ).structured_content
            assert film is not None
            if sum(shot["job_id"] is not None for shot in film["film"]["shots"]) >= count:
                return film


async def test_cancelling_a_film_cancels_its_unfinished_shots_and_submits_nothing_more(
    server: HappyHorseServer, fake: FakeFal
) -> None:
    fake.real_clips = True
    fake.hold = True
    async with Client(server) as client:
        started = await client.call_tool("make_film", {**FILM, "resolution": "720p", "wait_seconds": 0})
        assert started.structured_content is not None
        film_id = started.structured_content["job_id"]
        running = await _shots_started(client, film_id, 2)  # the two runs of shots start at once
        shot_ids = [shot["job_id"] for shot in running["film"]["shots"] if shot["job_id"]]
        cancelled = await client.call_tool("cancel_job", {"job_id": film_id})
        text = cancelled.content[0].text  # type: ignore[union-attr]
        assert all(shot_id in text for shot_id in shot_ids), text
        assert "nothing more is submitted" in text
        final = await client.call_tool("get_job", {"job_id": film_id, "wait_seconds": 20})
    film = final.structured_content
    assert film is not None
    assert film["status"] == "cancelled"
    assert film["cost_usd"] == 0
    assert "stay billed: USD 0.00" in final.content[0].text  # type: ignore[union-attr]
    assert len(fake.submits) == 2, "the shots that continue them were never submitted"
    assert all(job.cancelled for job in fake.submits)


async def test_extend_video_continues_a_local_video_and_list_jobs_shows_the_film_and_its_shot(
    settings: Settings, fake: FakeFal, allowed: Path
) -> None:
    from ..media_factory import encoded_video

    fake.real_clips = True
    source = encoded_video(allowed / "mine.mp4", seconds=4, width=640, height=360)
    server = make_server(replace(settings, allowed_dirs=(allowed,)))
    async with Client(server) as client:
        extended = await client.call_tool(
            "extend_video",
            {
                "video_url": str(source),
                "seconds": 3,
                "prompt": "the sea calms",
                "resolution": "720p",
                "transition": "cut",
            },
        )
        listed = await client.call_tool("list_jobs", {})
    result = extended.structured_content
    assert result is not None
    assert result["status"] == "completed", extended.content
    assert abs(result["video"]["duration"] - 7) <= 1 / 24
    (shot,) = fake.submits
    assert "image-to-video" in shot.endpoint_id
    lines = listed.content[0].text.splitlines()  # type: ignore[union-attr]
    assert any(line.startswith(f"{result['job_id']}: extend-video, completed") for line in lines), lines
    assert any(line.startswith(f"{result['film']['shots'][0]['job_id']}: image-to-video") for line in lines)


DUSK = {"seconds": 3, "prompt": "dusk falls", "resolution": "720p"}  # three seconds more of a four-second clip


async def test_extend_video_continues_a_fal_hosted_video_measured_before_anything_is_paid(
    server: HappyHorseServer, fake: FakeFal
) -> None:
    fake.real_clips = True
    async with Client(server) as client:
        url = (await _four_second_clip(client))["video"]["url"]
        extended = await client.call_tool("extend_video", {**DUSK, "video_url": url})
    result = extended.structured_content
    assert result is not None
    assert result["status"] == "completed", extended.content
    assert result["film"]["seconds"] == 4 + 3 - 0.5, "the source's length, read before the price was asked"
    assert abs(result["video"]["duration"] - (4 + 3 - 0.5)) <= 1 / 24
    assert len(fake.submits) == 2


async def test_a_retry_of_an_extension_by_its_key_returns_the_first_film_without_fetching_its_source_again(
    server: HappyHorseServer, fake: FakeFal
) -> None:
    fake.real_clips = True
    async with Client(server) as client:
        url = (await _four_second_clip(client))["video"]["url"]
        call = {**DUSK, "video_url": url, "idempotency_key": "k1"}
        first = await client.call_tool("extend_video", call)
        assert first.structured_content is not None
        assert first.structured_content["status"] == "completed", first.content
        fake.uploads.pop(url.split("/files/", 1)[1])  # the source is gone from fal's storage
        fetched = fake.downloads
        again = await client.call_tool("extend_video", call)
    assert again.structured_content is not None, again.content
    assert again.structured_content["job_id"] == first.structured_content["job_id"]
    assert fake.downloads == fetched, "nothing fetched for a call that pays nothing"
    assert len(fake.submits) == 2


async def test_a_shot_s_local_reference_image_is_checked_then_uploaded_and_sent_by_its_url(
    settings: Settings, fake: FakeFal, allowed: Path
) -> None:
    from ..media_factory import image

    fake.real_clips = True
    mare = image(allowed / "mare.png", 640, 480)
    server = make_server(replace(settings, allowed_dirs=(allowed,)))
    shots = [{"prompt": "character1 at the water", "duration": 3, "reference_image_urls": [str(mare)]}, SHOTS[2]]
    async with Client(server) as client:
        made = await client.call_tool("make_film", {**FILM, "shots": shots, "resolution": "720p", "wait_seconds": 60})
        tiny = image(allowed / "tiny.png", 100, 100)
        refused = await client.call_tool(
            "make_film", {**FILM, "shots": [{**shots[0], "reference_image_urls": [str(tiny)]}, SHOTS[2]]}
        )
    assert made.structured_content is not None
    assert made.structured_content["status"] == "completed", made.content
    referenced = next(job for job in fake.submits if "reference-to-video" in job.endpoint_id)
    (url,) = referenced.arguments["image_urls"]
    assert fake.uploads[url.split("/files/", 1)[1]] == mare.read_bytes(), "the checked file, uploaded as it is"
    assert refused.is_error
    said = refused.content[0].text  # type: ignore[union-attr]
    assert "shots.0.reference_image_urls.0:" in said, said
    assert "at least 400 px" in said
    assert len(fake.submits) == 2, "the refused film sent nothing"


@pytest.mark.parametrize(
    ("clip_tool", "clip_arguments", "shot", "rule"),
    [
        (
            "generate_video",
            {"prompt": "   "},
            {"prompt": "   "},
            "must contain text (1 to 2500 characters), not only spaces",
        ),
        (
            "reference_to_video",
            {"prompt": "a horse", "image_urls": ["ftp://example.com/horse.png"]},
            {"prompt": "a horse", "reference_image_urls": ["ftp://example.com/horse.png"]},
            "must be an http(s) URL, a data: URI, or a local file path",
        ),
    ],
    ids=["blank prompt", "ftp reference"],
)
async def test_a_shot_is_refused_by_the_same_rule_and_words_as_the_clip_tool_it_becomes(
    server: HappyHorseServer, fake: FakeFal, clip_tool: str, clip_arguments: dict[str, Any], shot: dict[str, Any],
    rule: str,
) -> None:  # fmt: skip
    async with Client(server) as client:
        clip = await client.call_tool(clip_tool, clip_arguments)
        film = await client.call_tool("make_film", {"shots": [shot, {"prompt": "a second shot"}], "max_cost_usd": 9})
    for refused in (clip, film):
        assert refused.is_error
        assert rule in refused.content[0].text  # type: ignore[union-attr]
        assert "Nothing was submitted" in refused.content[0].text  # type: ignore[union-attr]
    assert fake.requests == []


async def test_extend_video_refused_by_the_budget_or_declined_fetches_nothing_and_leaves_nothing_behind(
    settings: Settings, fake: FakeFal
) -> None:
    # 12 refused calls against a USD 0.01 budget left 12 copies of the source, each up to 200 MB.
    fake.real_clips = True
    async with Client(make_server(settings)) as client:
        url = (await _four_second_clip(client))["video"]["url"]
    fetched_before = fake.downloads
    poor = make_server(replace(settings, limits=SpendLimits(daily_budget_usd=0.01)))
    async with Client(poor) as client:
        refused = [await client.call_tool("extend_video", {**DUSK, "video_url": url}) for _ in range(12)]
    after_refused = fake.downloads
    declined_server = make_server(replace(settings, limits=SpendLimits(confirm_above_usd=0.01)))
    async with Client(declined_server, elicitation_callback=_declining) as client:
        declined = await client.call_tool("extend_video", {**DUSK, "video_url": url})
    assert all(answer.is_error and "budget" in answer.content[0].text for answer in refused)  # type: ignore[union-attr]
    assert after_refused == fetched_before, "refused by the budget: nothing fetched"
    assert fake.downloads > after_refused, "declined: measured for the question (once a round), then removed"
    assert declined.is_error or "not" in declined.content[0].text  # type: ignore[union-attr]
    kept = [path for path in settings.data_dir.rglob("*.mp4")]
    assert kept == [], f"left behind: {kept}"
    assert len(fake.submits) == 1, "only the first clip"


async def _declining(context: Any, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": False})


async def test_extend_video_refuses_a_url_source_of_hostile_dimensions_before_a_frame_is_decoded(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    from ..media_factory import encoded_video

    # 5000x5000 frames: the URL's video obeys the rules a local source does (longer side at most 2160 px).
    huge = encoded_video(tmp_path / "huge.mp4", seconds=3, width=5000, height=5000, fps=1).read_bytes()
    fake.uploads["hostile/huge.mp4"] = huge
    async with Client(make_server(settings)) as client:
        refused = await client.call_tool(
            "extend_video", {**DUSK, "video_url": f"{settings.cdn_url}/files/hostile/huge.mp4"}
        )
    assert refused.is_error
    assert "is 5000x5000; fal needs the longer side at most 2160 px" in refused.content[0].text  # type: ignore[union-attr]
    assert "Nothing was submitted" in refused.content[0].text  # type: ignore[union-attr]
    assert "measuring-" not in refused.content[0].text  # type: ignore[union-attr]
    assert fake.submits == []
    assert list(settings.data_dir.rglob("*.mp4")) == []


async def test_with_an_admin_key_a_film_shows_what_fal_billed_for_its_shots_summed(
    settings: Settings, fake: FakeFal
) -> None:
    from pydantic import SecretStr

    from ..fakefal import ADMIN_KEY

    fake.real_clips = True
    fake.bill = 0.5  # each shot, whatever its estimate
    two_shots = {"shots": SHOTS[:2], "style": STYLE, "resolution": "720p"}
    admin = replace(settings, fal_admin_key=SecretStr(ADMIN_KEY), limits=SpendLimits(confirm_above_usd=100))
    async with Client(make_server(admin)) as client:
        made = await client.call_tool("make_film", {**two_shots, "wait_seconds": 120})
        assert made.structured_content is not None
        assert made.structured_content["status"] == "completed", made.content
        with anyio.fail_after(10):
            while True:  # each call yields to the server, whose reconciler reads the shots' bills meanwhile
                shown = await client.call_tool("get_job", {"job_id": made.structured_content["job_id"]})
                assert shown.structured_content is not None
                if shown.structured_content["billed_usd"] is not None:
                    break
    assert shown.structured_content["billed_usd"] == 1.0
    assert shown.structured_content["cost_usd"] == made.structured_content["cost_usd"], "the estimate stays beside it"
    assert "fal billed USD 1.00" in " ".join(getattr(c, "text", "") for c in shown.content)
