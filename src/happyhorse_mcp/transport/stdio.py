"""The stdio transport: one JSON-RPC message a line on stdin, answers on stdout.

The SDK's own reads stdin on a worker thread, which nothing can interrupt: Ctrl+C or SIGTERM left the server
running until another line arrived. Here stdin is read by the event loop itself (a pipe, a socket or a terminal),
so a signal stops the server at once, its jobs' leases released on the way out. A line that is not JSON-RPC is
answered with JSON-RPC's own error (-32700 for what is not JSON, -32600 for JSON that is not a message), where the
SDK's transport answered nothing and left the client waiting. Where stdin is a regular file, the null device (or on
Windows) the SDK's transport serves as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage

from ..server import HappyHorseServer

logger = logging.getLogger(__name__)

# A line carries one message, and a message may carry a data: URI of a 20 MB image (27 MB in base64).
MAX_LINE_BYTES = 64 * 1024 * 1024
PARSE_ERROR = -32700
INVALID_REQUEST = -32600

Streams = tuple[ObjectReceiveStream[SessionMessage | Exception], ObjectSendStream[SessionMessage]]


def _readable_by_the_loop(fd: int) -> bool:
    if sys.platform == "win32":
        return False
    mode = os.fstat(fd).st_mode
    # Of character devices only a terminal: epoll refuses the null device (a service's or a container's stdin), and
    # the loop would wait on it for ever.
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or (stat.S_ISCHR(mode) and os.isatty(fd))


def refusal(line: bytes) -> types.JSONRPCError:
    """JSON-RPC's answer to a line that is not a message it can take, with the request's id when it has one."""
    try:
        data: Any = json.loads(line.decode("utf-8"))  # strictly: a lone surrogate is not UTF-8, so not JSON
    except (ValueError, RecursionError):
        return types.JSONRPCError(
            jsonrpc="2.0",
            id=None,
            error=types.ErrorData(code=PARSE_ERROR, message="Parse error: the line is not JSON (one message a line)."),
        )
    raw_id = data.get("id") if isinstance(data, dict) else None
    request_id = (
        raw_id if isinstance(raw_id, str) or (isinstance(raw_id, int) and not isinstance(raw_id, bool)) else None
    )
    return types.JSONRPCError(
        jsonrpc="2.0",
        id=request_id,
        error=types.ErrorData(code=INVALID_REQUEST, message="Invalid Request: not a JSON-RPC 2.0 message."),
    )


@asynccontextmanager
async def stdio_streams() -> AsyncIterator[Streams]:
    """(read, write) streams of MCP messages over this process's stdin and stdout. While they are open, fd 0 reads
    the null device and fd 1 writes to stderr, so nothing else in the process (a library's print, a child process)
    can touch the wire; both are put back on the way out."""
    if not _readable_by_the_loop(0):
        async with stdio_server() as streams:
            yield streams
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
    wire_in, wire_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    pipe = os.fdopen(os.dup(wire_in), "rb", buffering=0)  # asyncio's own: it closes it at end of input
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)

    async def write(message: types.JSONRPCMessage | types.JSONRPCError) -> None:
        data = message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
        await anyio.to_thread.run_sync(_write_all, wire_out, data)

    async def read_lines() -> None:
        async with read_writer:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # longer than MAX_LINE_BYTES
                    logger.warning("a line longer than %d bytes was refused", MAX_LINE_BYTES)
                    too_long = types.ErrorData(code=INVALID_REQUEST, message="Invalid Request: the line is too long.")
                    await write(types.JSONRPCError(jsonrpc="2.0", id=None, error=too_long))
                    continue
                if not line:
                    return  # the client closed stdin
                if not line.strip():
                    continue
                try:
                    message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                except Exception as exc:  # noqa: BLE001 - whatever the parser says, the client gets JSON-RPC's error
                    logger.warning("a line on stdin is not a JSON-RPC message (%s)", type(exc).__name__)
                    await write(refusal(line))
                    continue
                await read_writer.send(SessionMessage(message))

    async def write_messages() -> None:
        async with write_reader:
            async for session_message in write_reader:
                await write(session_message.message)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_lines)
            tg.start_soon(write_messages)
            yield read_stream, write_stream
            tg.cancel_scope.cancel()
    finally:
        # asyncio made stdin non-blocking, a mode every holder of the terminal or pipe shares: left so, the shell that
        # started us would fail its next read.
        transport.close()
        with contextlib.suppress(OSError):
            os.set_blocking(wire_in, True)
        os.dup2(wire_in, 0)
        os.dup2(wire_out, 1)
        os.close(wire_in)
        os.close(wire_out)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def serve_stdio(mcp: HappyHorseServer) -> None:
    """Serve `mcp` on stdin and stdout until the client closes stdin, Ctrl+C or SIGTERM (each a clean stop)."""
    terminated = anyio.open_signal_receiver(signal.SIGTERM) if sys.platform != "win32" else contextlib.nullcontext(None)
    with terminated as signals:
        logger.info(
            "waiting for an MCP client on stdin (this is normal: an MCP host starts the server and talks to it)"
        )
        async with stdio_streams() as (read_stream, write_stream), anyio.create_task_group() as tg:

            async def stop_when_terminated() -> None:
                if signals is None:
                    return
                async for _ in signals:
                    logger.info("SIGTERM: stopping")
                    tg.cancel_scope.cancel()
                    return

            tg.start_soon(stop_when_terminated)
            await mcp.run_on(read_stream, write_stream)
            tg.cancel_scope.cancel()
