"""The server's instructions: what every tool shares, said once (prices, the common arguments, timing, films), so
each tool's definition stays short. Prices and limits come from the catalog."""

from ..domain.catalog import DEFAULT_VERSION, MAX_DURATION, MODEL_VERSIONS, SPECS, price_sentence
from ..domain.errors import SUGGESTED_WAIT_SECONDS
from ..domain.film import FILM_TOOLS, MAX_SHOTS, FilmKind


def _prices() -> str:
    """One line per price rule: the tools that share one are named together."""
    by_rule: dict[str, list[str]] = {}
    for spec in SPECS.values():
        by_rule.setdefault(price_sentence(spec).removeprefix("Price: "), []).append(spec.tool)
    return " ".join(f"{', '.join(tools)}: {rule}" for rule, tools in by_rule.items())


def _newest_version() -> str:
    """What the newest version adds to the default one, from the catalog."""
    default = next(version for version in MODEL_VERSIONS if version.name == DEFAULT_VERSION)
    newest = MODEL_VERSIONS[-1]
    cheaper = [r for r, usd in newest.usd_per_second.items() if usd < default.usd_per_second[r]]
    extra = [ratio for ratio in newest.aspect_ratios if ratio not in default.aspect_ratios]
    said = [f"cheaper {', '.join(cheaper)}"] if cheaper else []
    said += [f"aspect ratios {', '.join(extra)}"] if extra else []
    return f"{newest.name}: {', and '.join(said)}"


FILM, EXTEND = FILM_TOOLS[FilmKind.FILM], FILM_TOOLS[FilmKind.EXTENSION]

INSTRUCTIONS = f"""\
Makes videos with sound with Alibaba's HappyHorse-1.0 on fal: from text, from an image, from reference images, by \
swapping a subject in a video, and films of several shots. Jobs cost money: call estimate_cost first unless the \
user agreed to a price.
Prices: {_prices()} A film costs its shots.
Prompts: describe subject, action, setting, light and mood; ask for camera moves in words ('slow dolly-in', \
'static camera'). Audio (dialogue, ambience, Foley) is always generated: describe the sounds and spoken lines.
Every tool that makes a video takes: wait_seconds (how long the call waits for it), idempotency_key (the same key \
again returns the first job, unpaid), max_cost_usd (refused above this estimate; also the user's agreement to the \
price where the client cannot ask), save_to (an .mp4 path or a folder to download it to), seed (fixed, it \
reproduces a take), version ({_newest_version()}).
Media arguments: an https URL, a data: URI, or a local path inside an allowed folder (the client's roots or \
HAPPYHORSE_ALLOWED_DIRS), uploaded to fal storage.
Films: for anything longer than one clip ({MAX_DURATION} s) or told in several shots, call {FILM} (2-{MAX_SHOTS} \
shots) instead of separate clips: one price and one question for the whole, shots made at once where they can be, \
joined with crossfades or cuts and one loudness. Put the shared subject and look in style; mark a shot \
continue_from_previous to start it from the previous shot's last frame (continuity of place and subject); give \
reference_image_urls to keep a character across shots that start fresh. {EXTEND} continues one finished clip. The \
storyboard prompt helps plan a film.
Timing: a clip takes 1-3 minutes, a film a few more. A call waits up to wait_seconds, then returns the job_id with \
status 'queued' or 'running'; call get_job(job_id, wait_seconds={SUGGESTED_WAIT_SECONDS}) to keep waiting. A job is \
never lost or submitted twice.
Checking: review_video(job_id) shows a finished video's frames and sound levels (a film's joins too); look before \
making more."""

SANDBOX_INSTRUCTIONS = """\
THIS IS THE SANDBOX: every tool works, but videos are made by a stand-in for fal built into this server (test cards \
with the prompt's first words and a tone), not by HappyHorse, and nothing is billed. Tell the user so whenever you \
show a result; prices are what HappyHorse would charge."""
