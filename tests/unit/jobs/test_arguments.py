"""A job record keeps a data: URI's digest, never its bytes, and a fingerprint that tells a retry from another call."""

from __future__ import annotations

import base64

from happyhorse_mcp.jobs.arguments import fingerprint, redact_data_uris

PICTURE = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + b"x" * 1000).decode()


def test_a_data_uri_is_kept_as_its_type_digest_and_size_in_lists_too() -> None:
    kept = redact_data_uris({"image_url": PICTURE, "reference_image_urls": [PICTURE, "https://x/y.png"], "n": 3})
    assert kept["image_url"].startswith("data:image/png;base64;sha256=")
    assert kept["image_url"].endswith(f";bytes={len(PICTURE.split(',', 1)[1])}")
    assert kept["reference_image_urls"][1] == "https://x/y.png"
    assert kept["n"] == 3
    assert "eHh4" not in str(kept), "no payload left"


def test_the_same_call_has_the_same_fingerprint_whatever_the_order_and_another_call_another() -> None:
    one = fingerprint("e", {"prompt": "a horse", "duration": 5})
    assert one == fingerprint("e", {"duration": 5, "prompt": "a horse"})
    assert one != fingerprint("e", {"prompt": "a horse", "duration": 6})
    assert one != fingerprint("other", {"prompt": "a horse", "duration": 5})
    assert fingerprint("e", {"image_url": PICTURE}) != fingerprint("e", {"image_url": PICTURE + "A"})
