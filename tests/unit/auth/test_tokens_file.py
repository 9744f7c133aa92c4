"""A tokens file (HAPPYHORSE_HTTP_TOKENS_FILE) that cannot be right stops the server at start, naming the line and
never the token; a good one names each user with their scopes, keeping only digests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from happyhorse_mcp.config import ConfigError
from happyhorse_mcp.config.tokens_file import read_tokens_file
from happyhorse_mcp.domain.principal import READ_SCOPE, SCOPES

ALICE, BOB = "alice-token-0123456789abcdef", "bob-token-0123456789abcdef"


def test_each_line_names_a_user_with_a_digest_of_the_token_and_its_scopes(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    digest = hashlib.sha256(BOB.encode()).hexdigest()
    path.write_text(f"# the team\nalice {ALICE}\n\nbob sha256:{digest} {READ_SCOPE}\n")
    alice, bob = read_tokens_file("HAPPYHORSE_HTTP_TOKENS_FILE", str(path))
    assert (alice.user, alice.scopes, alice.digest) == ("alice", SCOPES, hashlib.sha256(ALICE.encode()).digest())
    assert (bob.user, bob.scopes, bob.digest.hex()) == ("bob", (READ_SCOPE,), digest)
    assert ALICE not in repr(alice)


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("alice short", "too short"),
        ("local " + "x" * 30, "not a usable name"),
        (f"alice {ALICE}\nalice {BOB}", "named twice"),
        (f"alice {ALICE}\nbob {ALICE}", "also another user's"),
        (f"alice {ALICE} happyhorse:admin", "unknown scope"),
        ("alice", "no token"),
        ("# nobody", "names no user"),
    ],
)
def test_a_tokens_file_that_cannot_be_right_is_refused_at_start_naming_the_line(
    tmp_path: Path, line: str, complaint: str
) -> None:
    path = tmp_path / "tokens"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError, match=complaint) as refused:
        read_tokens_file("HAPPYHORSE_HTTP_TOKENS_FILE", str(path))
    assert ALICE not in str(refused.value)
    assert BOB not in str(refused.value)
