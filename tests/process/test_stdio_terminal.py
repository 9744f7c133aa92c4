"""The stdio server as a person starts it from README, in a real terminal: the first Ctrl+C (or a SIGTERM) ends it,
quietly; and lines on stdin that are not JSON-RPC are answered with JSON-RPC's errors, the server going on."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX terminals")


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "a-person", "version": "1"}},
}


def _env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HAPPYHORSE_DATA_DIR": str(tmp_path / "data")}


def _read_until(fd: int, text: bytes) -> bytes:
    seen = b""
    while text not in seen:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        seen += chunk
    return seen


@contextmanager
def in_a_terminal(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """The server in a new session whose controlling terminal is a pseudo-terminal; yields it and the master side."""
    master, slave = os.openpty()
    attributes = termios.tcgetattr(slave)
    attributes[3] &= ~termios.ECHO  # what is typed (a request) is not echoed back among the answers
    termios.tcsetattr(slave, termios.TCSANOW, attributes)

    # The child takes its new session's terminal in a Python of its own that then becomes the server: a preexec_fn
    # would run Python between fork and exec, which deadlocks now and then in a test worker that has threads.
    take_the_terminal = (
        "import fcntl, os, signal, sys, termios\n"
        "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
        # As a person's shell starts it: Ctrl+C interrupts. A test run started in the background (`cmd &` in a
        # script) hands its children SIGINT ignored, and Python then installs no handler of its own.
        "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'happyhorse_mcp'])\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", take_the_terminal],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=_env(tmp_path),
        start_new_session=True,
    )
    os.close(slave)
    try:
        yield process, master
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_the_first_ctrl_c_or_a_sigterm_ends_the_server_quietly(tmp_path: Path, how: str) -> None:
    with in_a_terminal(tmp_path) as (server, terminal):
        # Serving for sure: it answered a request typed into the terminal.
        os.write(terminal, json.dumps(INITIALIZE).encode() + b"\n")
        answered = _read_until(terminal, b'"serverInfo"')
        assert b'"serverInfo"' in answered, answered.decode(errors="replace")
        if how == "ctrl-c":
            os.write(terminal, b"\x03")  # the terminal sends SIGINT to the server's process group
        else:
            server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=10)
        try:
            said = os.read(terminal, 65536)
        except OSError:  # the terminal closed with the server
            said = b""
    assert code in (0, 130, -signal.SIGINT), code
    assert b"Traceback" not in said, said.decode(errors="replace")


MALFORMED = [  # (line, the error code it is answered with, the id the answer carries)
    (b"{not json", -32700, None),
    (b'{"jsonrpc": "2.0", "id": 7, "method": "ping", "params": {"x": "\xed\xa0\x80"}}', -32700, None),  # surrogate
    (b"[" * 100_000, -32700, None),  # nested too deep to parse
    (b'{"jsonrpc": "2.0", "id": 8, "method": 5}', -32600, 8),  # JSON, not a message
]


def test_each_line_that_is_not_json_rpc_is_answered_with_json_rpc_s_error_and_the_server_goes_on(
    tmp_path: Path,
) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "happyhorse_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_env(tmp_path),
        bufsize=0,  # unbuffered: select() sees every answer not yet read
    ) as server:
        assert server.stdin is not None
        assert server.stdout is not None
        try:
            for number, (line, code, request_id) in enumerate(MALFORMED, start=100):
                ping = {"jsonrpc": "2.0", "id": number, "method": "ping"}
                server.stdin.write(line + b"\n" + json.dumps(ping).encode() + b"\n")
                server.stdin.flush()
                error, pong = (json.loads(_line_within(server.stdout, 60)) for _ in range(2))
                assert (error["error"]["code"], error["id"]) == (code, request_id), line[:40]
                assert pong == {"jsonrpc": "2.0", "id": number, "result": {}}, line[:40]
        finally:
            server.kill()


def _line_within(stream: IO[bytes], seconds: float) -> bytes:
    ready, _, _ = select.select([stream], [], [], seconds)
    assert ready, f"no answer within {seconds} s"
    return stream.readline()


def test_stdin_is_left_blocking_for_the_programs_that_share_it_when_the_server_stops(tmp_path: Path) -> None:
    """The event loop reads stdin non-blocking, a mode shared by every process holding the same terminal or pipe:
    left so, the shell that started the server would fail its next read."""
    shared, client = os.pipe()
    try:
        with subprocess.Popen(
            [sys.executable, "-m", "happyhorse_mcp"],
            stdin=shared,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(tmp_path),
        ) as server:
            os.write(client, json.dumps(INITIALIZE).encode() + b"\n")
            os.close(client)  # the client closes stdin: the server stops
            client = -1
            assert server.wait(timeout=60) == 0
        assert os.get_blocking(shared)
    finally:
        os.close(shared)
        if client != -1:
            os.close(client)
