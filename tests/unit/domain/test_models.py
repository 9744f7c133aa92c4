"""The job record: what it counts against the budgets (a clip its cost; a film what it still holds for shots without
a job, nothing once it ended), where it is in words, and its result."""

from __future__ import annotations

from happyhorse_mcp.domain.catalog import Operation
from happyhorse_mcp.domain.film import FILM_ENDPOINT, FilmKind, FilmProgress, Shot, Storyboard, price_film
from happyhorse_mcp.domain.models import Job

BOARD = Storyboard(shots=[Shot(prompt="a", duration=5), Shot(prompt="b", duration=3)], resolution="720p")
PRICE = price_film(BOARD)


def _film(progress: FilmProgress, status: str = "running") -> Job:
    return Job(
        job_id="hh_film",
        status=status,
        operation=FilmKind.FILM,
        endpoint=FILM_ENDPOINT,
        arguments=BOARD.model_dump(mode="json"),
        cost_usd=PRICE.usd,
        output={"film": progress.model_dump(mode="json")},
    )


def test_a_clip_counts_its_cost_against_the_budgets() -> None:
    clip = Job(job_id="hh_1", operation=Operation.TEXT_TO_VIDEO, endpoint="e", arguments={}, cost_usd=0.7)
    assert clip.committed_usd == 0.7
    assert clip.film is None


def test_a_film_counts_what_it_still_holds_for_shots_without_a_job_and_nothing_once_ended() -> None:
    planned = FilmProgress.planned(BOARD, PRICE)
    assert _film(planned).committed_usd == PRICE.usd
    started = planned.model_copy(deep=True)
    started.shots[0] = started.shots[0].model_copy(update={"job_id": "hh_shot1", "status": "running"})
    assert _film(started).committed_usd == PRICE.shots[1].usd
    assert _film(started, status="failed").committed_usd == 0.0


def test_a_film_says_where_it_is_and_its_result_carries_its_shots() -> None:
    progress = FilmProgress.planned(BOARD, PRICE)
    progress.shots[0] = progress.shots[0].model_copy(update={"job_id": "hh_shot1", "status": "completed"})
    film = _film(progress)
    assert film.phase == "Making the shots (1 of 2 done)"
    assert _film(progress.model_copy(update={"phase": "assembling"})).phase == "Assembling the film"
    result = film.result()
    assert result.operation == FilmKind.FILM
    assert result.film is not None
    assert [shot.job_id for shot in result.film.shots] == ["hh_shot1", None]
    assert result.next_step is not None
    assert "get_job" in result.next_step
    assert result.prompt == "a", "a film without a style is shown by its first shot's prompt"
