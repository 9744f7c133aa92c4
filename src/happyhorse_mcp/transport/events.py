"""Resumable streams over Streamable HTTP: every SSE event the server sends carries an id, and a client whose stream
dropped reconnects with `Last-Event-ID` and is sent what it missed (the SDK's EventStore interface, kept in memory,
bounded). A job goes on whatever happens to a stream; this lets the client hear of it without asking again."""

from __future__ import annotations

import itertools
from collections import OrderedDict

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.types import JSONRPCMessage

# Events kept for replay, all streams together: a client reconnecting within a few minutes finds what it missed.
MAX_EVENTS = 2000


class BoundedEventStore(EventStore):
    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self._max = max_events
        self._numbers = itertools.count(1)
        self._events: OrderedDict[EventId, tuple[StreamId, JSONRPCMessage | None]] = OrderedDict()

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = str(next(self._numbers))
        self._events[event_id] = (stream_id, message)
        while len(self._events) > self._max:
            self._events.popitem(last=False)
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        if last_event_id not in self._events:
            return None  # unknown, or too old to replay
        stream_id = self._events[last_event_id][0]
        after = False
        for event_id, (stream, message) in list(self._events.items()):
            if after and stream == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
            after = after or event_id == last_event_id
        return stream_id
