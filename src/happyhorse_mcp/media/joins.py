"""What a film's joins look and sound like, for a reviewer to see before anyone watches: black frames
(`blackdetect`), silence (`silencedetect`), a jump in level from one side of a join to the other (EBU R128 loudness
of the second before and the second after), and whether the film lasts what was planned."""

from __future__ import annotations

from dataclasses import dataclass

import av

from .filters import Media, chain, length, opened, run, stretches
from .loudness import integrated_loudness, silences

NEAR_SECONDS = 0.5  # a black stretch or a silence this close to a join belongs to it
LEVEL_WINDOW = 1.0  # the seconds each side of a join whose loudness is compared
JUMP_LU = 6.0  # a jump this large at a join is heard as one


@dataclass(frozen=True)
class JoinFacts:
    at_seconds: float
    black: bool
    silent: bool
    level_jump_lu: float | None

    @property
    def clean(self) -> bool:
        return not self.black and not self.silent and (self.level_jump_lu is None or abs(self.level_jump_lu) < JUMP_LU)


def black_stretches(path: Media, *, longer_than: float = 0.1) -> list[tuple[float, float]]:
    """Stretches of black picture longer than `longer_than` seconds, as (start, end)."""
    with opened(path) as container:
        stream = container.streams.video[0]
        graph = av.filter.Graph()
        source = graph.add_buffer(template=stream)
        sink = chain(graph, source, [("blackdetect", f"d={longer_than}:pix_th=0.10")], "buffersink")
        return stretches(run(source, sink, container.decode(stream)), "black", lambda: length(path))


def join_facts(path: Media, joins: list[float]) -> list[JoinFacts]:
    """The facts of each join, at the given seconds of the film."""
    blacks, quiet = black_stretches(path), silences(path)

    def near(stretches: list[tuple[float, float]], at: float) -> bool:
        return any(start - NEAR_SECONDS <= at <= end + NEAR_SECONDS for start, end in stretches)

    facts = []
    for at in joins:
        before = integrated_loudness(path, max(0.0, at - LEVEL_WINDOW), at)
        after = integrated_loudness(path, at, at + LEVEL_WINDOW)
        jump = round(after - before, 1) if before is not None and after is not None else None
        facts.append(JoinFacts(at, near(blacks, at), near(quiet, at), jump))
    return facts
