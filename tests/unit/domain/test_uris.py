"""The resource URIs are made and read in one place."""

from happyhorse_mcp.domain.uris import job_of, job_uri, sheet_uri, video_uri


def test_a_job_s_uris_name_it_and_are_read_back_to_it() -> None:
    uris = [job_uri("hh_1"), video_uri("hh_1"), sheet_uri("hh_1")]
    assert uris == ["happyhorse://jobs/hh_1", "happyhorse://jobs/hh_1/video", "happyhorse://jobs/hh_1/contact-sheet"]
    assert {job_of(uri) for uri in uris} == {"hh_1"}


def test_other_uris_name_no_job() -> None:
    for uri in ("happyhorse://spend", "happyhorse://jobs/", "happyhorse://jobs/hh_1/other", "file:///etc/shadow"):
        assert job_of(uri) is None
