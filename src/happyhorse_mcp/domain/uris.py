"""The server's resource URIs, made and read in one place: a job, its video, its contact sheet, the spend report."""

from __future__ import annotations

JOB_URI_PREFIX = "happyhorse://jobs/"
# The sandbox's stand-in for fal (sandbox/): its address (a reserved name that never resolves: nothing leaves the
# process) and the mark on every request id it gives, which tells a sandbox job from a real one wherever it is shown.
SANDBOX_URL = "http://sandbox.happyhorse.invalid"
SANDBOX_REQUEST_PREFIX = "sandbox-"
SPEND_URI = "happyhorse://spend"
VIDEO_PART = "video"
SHEET_PART = "contact-sheet"
JOB_TEMPLATE = JOB_URI_PREFIX + "{job_id}"
JOB_VIDEO_TEMPLATE = f"{JOB_TEMPLATE}/{VIDEO_PART}"
JOB_SHEET_TEMPLATE = f"{JOB_TEMPLATE}/{SHEET_PART}"


def job_uri(job_id: str) -> str:
    return JOB_TEMPLATE.format(job_id=job_id)


def video_uri(job_id: str) -> str:
    return JOB_VIDEO_TEMPLATE.format(job_id=job_id)


def sheet_uri(job_id: str) -> str:
    return JOB_SHEET_TEMPLATE.format(job_id=job_id)


def job_of(uri: str) -> str | None:
    """The job id a job, video or contact-sheet URI names; None for any other URI."""
    if not uri.startswith(JOB_URI_PREFIX):
        return None
    job_id, _, part = uri.removeprefix(JOB_URI_PREFIX).partition("/")
    return job_id if job_id and part in ("", VIDEO_PART, SHEET_PART) else None
