"""Where a video may be saved and which files a call may read, decided before anything is paid:
files/localfiles.py without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from happyhorse_mcp.domain.catalog import IMAGE_TO_VIDEO, TEXT_TO_VIDEO
from happyhorse_mcp.domain.errors import InvalidMediaError
from happyhorse_mcp.files.localfiles import cannot_write, check_destination, names_local_path, plan_media, user_folder

from ... import media_factory


def test_a_folder_save_to_inside_an_allowed_folder_is_taken_and_missing_folders_are_made_later(
    tmp_path: Path,
) -> None:
    assert check_destination(str(tmp_path / "a" / "b"), [tmp_path]) == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()


def test_a_relative_save_to_starts_at_the_base_and_needs_one(tmp_path: Path) -> None:
    assert check_destination("clips/intro.mp4", [tmp_path], tmp_path) == tmp_path / "clips" / "intro.mp4"
    with pytest.raises(InvalidMediaError, match="shares no root"):
        check_destination("clips/intro.mp4", [tmp_path])


@pytest.mark.parametrize(
    ("save_to", "said"),
    [
        ("{tmp}/../elsewhere", "may not contain '..'"),
        ("/etc/clip.mp4", "outside every allowed folder"),
        ("{tmp}/exists.mp4", "already exists"),
        ("{tmp}/a\x00.mp4", "NUL"),
    ],
)
def test_a_save_to_that_could_not_be_saved_is_refused(tmp_path: Path, save_to: str, said: str) -> None:
    (tmp_path / "exists.mp4").write_bytes(b"x")
    with pytest.raises(InvalidMediaError, match=said):
        check_destination(save_to.format(tmp=tmp_path), [tmp_path])


def test_a_file_standing_where_a_folder_is_needed_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    assert cannot_write(tmp_path) is None
    assert "is a file, not a folder" in (cannot_write(tmp_path / "file" / "videos") or "")


def test_a_call_names_a_local_path_when_a_media_argument_or_save_to_is_one() -> None:
    assert names_local_path(IMAGE_TO_VIDEO, {"image_url": "~/horse.png"})
    assert names_local_path(TEXT_TO_VIDEO, {"save_to": "clips/"})
    assert not names_local_path(IMAGE_TO_VIDEO, {"image_url": "https://example.com/horse.png"})


def test_the_plan_keeps_each_checked_file_by_its_argument_and_saves_to_the_output_folder(tmp_path: Path) -> None:
    picture = media_factory.image(tmp_path / "horse.png")
    plan = plan_media(IMAGE_TO_VIDEO, {"image_url": str(picture)}, [tmp_path], output_dir=tmp_path / "out")
    assert plan.local["image_url"].path == picture
    assert plan.save_to == tmp_path / "out"


def test_over_http_a_local_path_with_no_allowed_folder_says_the_client_s_roots_do_not_count(tmp_path: Path) -> None:
    with pytest.raises(InvalidMediaError, match="reached over HTTP") as refused:
        plan_media(IMAGE_TO_VIDEO, {"image_url": str(tmp_path / "horse.png")}, [], remote=True)
    assert str(refused.value).startswith("image_url:")


@pytest.mark.parametrize("name", ["clip.mov", "clip.webm", "still.png"])
def test_a_save_to_naming_another_kind_of_file_is_refused_not_made_a_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidMediaError, match=r"the video is an MP4: end the name in \.mp4"):
        check_destination(str(tmp_path / name), [tmp_path])
    assert not (tmp_path / name).exists()


def test_with_no_folder_to_save_into_the_advice_is_about_folders_not_urls() -> None:
    with pytest.raises(InvalidMediaError, match="leave save_to out") as refused:
        check_destination("/tmp/clip.mp4", [])
    assert "https URL" not in str(refused.value)


def test_a_user_s_folder_is_named_by_them_and_a_name_that_is_not_a_safe_path_is_made_one_and_told_apart(
    tmp_path: Path,
) -> None:
    assert user_folder(tmp_path, "alice") == tmp_path / "users" / "alice"
    jwt_user = user_folder(tmp_path, "https://login.example.com#alice")
    other_issuer = user_folder(tmp_path, "https://login.example.org#alice")
    for folder in (jwt_user, other_issuer):
        assert folder.parent == tmp_path / "users"
        assert "/" not in folder.name
        assert ".." not in folder.name
    assert jwt_user != other_issuer
    assert user_folder(tmp_path, "../..").parent == tmp_path / "users"
