"""What `cancel_job` says it did to a film: the shots it asked to stop, those not at fal yet, and a film past its
shots (being assembled), which a cancel no longer stops."""

from __future__ import annotations

from happyhorse_mcp.domain.film import FilmKind, FilmPhase, FilmProgress, FilmShot
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.server.tools.jobs import film_cancel_summary


def _film(phase: FilmPhase, *shots: FilmShot) -> Job:
    progress = FilmProgress(phase=phase, shots=list(shots), seconds=6, transition="cut")
    return Job(
        job_id="hh_film",
        operation=FilmKind.FILM,
        endpoint="film",
        arguments={},
        cost_usd=2.8,
        cancel_requested=True,
        output={"film": progress.model_dump(mode="json")},
    )


def test_a_film_being_assembled_is_said_not_cancelled_with_what_its_shots_cost() -> None:
    made = FilmShot(job_id="hh_a", status="completed", price_usd=1.4, cost_usd=1.4, seconds=3)
    said = film_cancel_summary(_film("assembling", made, made.model_copy(update={"job_id": "hh_b"})), ())
    assert said.startswith("Film hh_film was not cancelled: all its shots were already made and billed (USD 2.80)")


def test_a_film_whose_shots_had_not_reached_fal_says_one_on_its_way_is_cancelled_when_fal_answers() -> None:
    planned = FilmShot(price_usd=1.4, seconds=3)
    said = film_cancel_summary(_film("shots", planned, planned), ())
    assert "nothing more is submitted" in said
    assert "one on its way there is cancelled as soon as fal answers" in said


def test_a_film_s_running_shots_are_named_as_asked_to_stop() -> None:
    running = FilmShot(job_id="hh_a", status="running", price_usd=1.4, seconds=3)
    said = film_cancel_summary(_film("shots", running, FilmShot(price_usd=1.4, seconds=3)), ("hh_a",))
    assert "its unfinished shots (hh_a) were asked to stop" in said
