"""README's tables and manifest.json's tool list, made from the code so they cannot drift from it.

`scripts/generate-docs` rewrites them; tests/docs/test_generated_docs.py fails when they differ. A table sits in
README.md between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`. Never imported by the server.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio

from ..config import VARIABLES, Settings
from ..domain.catalog import (
    ASPECT_RATIOS,
    DEFAULT_VERSION,
    MAX_DURATION,
    MAX_EDIT_OUTPUT_SECONDS,
    MAX_EDIT_REFERENCE_IMAGES,
    MAX_PROMPT_CHARS,
    MAX_REFERENCE_IMAGES,
    MAX_SEED,
    MIN_DURATION,
    PRICES_AS_OF,
    RESOLUTIONS,
    SPECS,
    TEXT_TO_VIDEO,
    VERSIONS,
    VIDEO_EDIT,
    media_sentence,
)
from ..domain.pricing import edit_estimate, estimate
from ..server import create_server
from ..server.tools._shared import MAX_WAIT_SECONDS

ROOT = Path(__file__).resolve().parents[3]
BLOCK = re.compile(r"(<!-- generated:(?P<name>[a-z]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.DOTALL)


def _code(value: Any) -> str:
    return f"`{value}`"


def _argument(name: str, schema: dict[str, Any], required: bool) -> str:
    if required:
        return _code(name)
    default = schema.get("default")
    shown = "None" if default is None else repr(default).replace("'", '"')
    return _code(f"{name}={shown}")


async def tools_table() -> str:
    server = create_server(Settings(fal_key=None))
    rows = ["| tool | what it does | arguments (defaults) |", "|---|---|---|"]
    for tool in await server.list_tools():
        properties: dict[str, Any] = tool.input_schema.get("properties", {})
        required = set(tool.input_schema.get("required", []))
        ordered = sorted(properties, key=lambda name: name not in required)
        arguments = ", ".join(_argument(name, properties[name], name in required) for name in ordered)
        rows.append(f"| {_code(tool.name)} | {tool.title} | {arguments} |")
    return "\n".join(rows)


def limits_table() -> str:
    ratios = "; ".join(f"{version}: {', '.join(ratios)}" for version, ratios in ASPECT_RATIOS.items())
    fewer = [f"{_code(s.tool)} only {', '.join(s.versions)}" for s in SPECS.values() if len(s.versions) < len(VERSIONS)]
    rows = [
        (_code("duration"), f"integer seconds, {MIN_DURATION}-{MAX_DURATION}"),
        (_code("prompt"), f"1-{MAX_PROMPT_CHARS} characters (optional for `image_to_video`)"),
        (_code("resolution"), " or ".join(RESOLUTIONS)),
        (_code("aspect_ratio"), ratios),
        (_code("version"), " or ".join(VERSIONS) + (f" ({'; '.join(fewer)})" if fewer else "")),
        (_code("seed"), f"0-{MAX_SEED}"),
        (_code("image_urls"), f"1-{MAX_REFERENCE_IMAGES}"),
        (_code("reference_image_urls"), f"0-{MAX_EDIT_REFERENCE_IMAGES}"),
        (_code("wait_seconds"), f"0-{MAX_WAIT_SECONDS}"),
        (_code("audio_setting"), "auto (new audio) or origin (keep the source's)"),
        *((f"{_code(spec.tool)} files", media_sentence(spec).rstrip(".")) for spec in SPECS.values() if spec.media),
    ]
    return "\n".join(["| argument | limit |", "|---|---|", *(f"| {name} | {limit} |" for name, limit in rows)])


def prices_table() -> str:
    rows = [
        f"| USD per second, as of {PRICES_AS_OF} | {' | '.join(RESOLUTIONS)} |",
        "|---|" + "---|" * len(RESOLUTIONS),
    ]
    for spec in SPECS.values():
        unit = " (source second + output second)" if spec.billing == "source_plus_output" else ""
        for version in spec.versions:
            cells = []
            for resolution in RESOLUTIONS:
                rate = f"{spec.rate(version, resolution):.2f}"
                cells.append(f"{rate} + {rate}" if spec.billing == "source_plus_output" else rate)
            rows.append(f"| {_code(spec.tool)} on {version}{unit} | {' | '.join(cells)} |")
    text, edit = TEXT_TO_VIDEO, VIDEO_EDIT
    clip = [estimate(text, duration=d, resolution="1080p", version=DEFAULT_VERSION).usd for d in (5, MAX_DURATION)]
    ten = estimate(edit, duration=0, resolution="1080p", version=DEFAULT_VERSION, source_duration=10)
    longest = edit_estimate(edit, "1080p", None)
    rows += [
        "",
        f"A 5 s 1080p clip on 1.0 costs USD {clip[0]:.2f}; {MAX_DURATION} s, USD {clip[1]:.2f}. A video edit's output "
        f"keeps the source's length, capped at {MAX_EDIT_OUTPUT_SECONDS} s, so a 10 s source at 1080p costs "
        f"({ten.how}) x {ten.rate_usd_per_second:.2f} = USD {ten.usd:.2f}; a source of unknown length is priced as "
        f"the longest fal takes ({longest.input_seconds} s: USD {longest.usd:.2f} at 1080p).",
    ]
    return "\n".join(rows)


def configuration_table() -> str:
    rows = ["| variable | meaning |", "|---|---|"]
    rows += [f"| {_code(variable.name)} | {variable.meaning} |" for variable in VARIABLES]
    return "\n".join(rows)


async def tables() -> dict[str, str]:
    return {
        "tools": await tools_table(),
        "limits": limits_table(),
        "prices": prices_table(),
        "configuration": configuration_table(),
    }


def render_readme(text: str, rendered: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in rendered:
            raise KeyError(f"README has a generated block {name!r} that nothing renders")
        return f"{match[1]}{rendered[name]}\n{match[4]}"

    return BLOCK.sub(replace, text)


async def manifest_tools() -> list[dict[str, str]]:
    server = create_server(Settings(fal_key=None))
    return [{"name": tool.name, "description": tool.title or tool.name} for tool in await server.list_tools()]


def render_manifest(text: str, tools: list[dict[str, str]]) -> str:
    manifest = json.loads(text)
    manifest["tools"] = tools
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


async def generate(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file with its up-to-date text."""
    readme, manifest = root / "README.md", root / "manifest.json"
    return {
        readme: render_readme(readme.read_text(), await tables()),
        manifest: render_manifest(manifest.read_text(), await manifest_tools()),
    }


def main() -> None:
    for path, text in anyio.run(generate).items():
        if path.read_text() != text:
            path.write_text(text)


if __name__ == "__main__":
    main()
