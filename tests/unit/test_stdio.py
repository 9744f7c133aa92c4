"""What a line on stdin that is not a JSON-RPC message is answered with."""

from __future__ import annotations

import pytest

from happyhorse_mcp.transport.stdio import INVALID_REQUEST, PARSE_ERROR, refusal


@pytest.mark.parametrize(
    ("line", "code", "request_id"),
    [
        (b"{not json", PARSE_ERROR, None),
        (b'"\xed\xa0\x80"', PARSE_ERROR, None),
        (b"[" * 100_000, PARSE_ERROR, None),
        (b'{"jsonrpc": "2.0", "id": 3, "method": 5}', INVALID_REQUEST, 3),
        (b'{"jsonrpc": "2.0", "id": "a", "method": 5}', INVALID_REQUEST, "a"),
        (b'{"jsonrpc": "2.0", "id": true, "method": 5}', INVALID_REQUEST, None),
        (b"[1, 2]", INVALID_REQUEST, None),
    ],
)
def test_a_line_is_refused_with_json_rpc_s_error_and_the_request_s_id_when_it_has_one(
    line: bytes, code: int, request_id: int | str | None
) -> None:
    answer = refusal(line)
    assert (answer.error.code, answer.id) == (code, request_id)
