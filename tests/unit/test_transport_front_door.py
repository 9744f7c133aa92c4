"""The front door reads which tools a JSON-RPC message calls, so a token without the scope to spend is refused a
spending call, alone or hidden in a batch, and nothing else."""

from __future__ import annotations

import json

from happyhorse_mcp.transport.front_door import _called_tools


def _call(tool: str, number: int = 1) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": {"name": tool, "arguments": {}}}


def test_the_tools_a_message_or_a_batch_calls_are_found_and_nothing_else_counts() -> None:
    assert _called_tools(json.dumps(_call("generate_video")).encode()) == {"generate_video"}
    batch = [_call("list_jobs", 1), {"jsonrpc": "2.0", "id": 2, "method": "ping"}, _call("edit_video", 3)]
    assert _called_tools(json.dumps(batch).encode()) == {"list_jobs", "edit_video"}
    assert _called_tools(b"{not json") == set()
    assert _called_tools(json.dumps({"method": "tools/call", "params": "x"}).encode()) == set()
