"""uvicorn's httptools protocol with the limits a request must keep before the application
sees it (interfaces/http/limits.py): the size of the request line and headers, the time to
send them, and the pace of the body.

Why a subclass: uvicorn (0.54) has no such settings for httptools. `timeout_keep_alive`
covers only the idle time between requests and is cancelled by the first byte received,
so a client sending its headers a byte at a time holds a connection for ever, and one that
connects and sends nothing is never timed out at all (the httptools protocol arms the
keep-alive timer only after a response); the header-read timeout proposed in uvicorn's
issue #157 ("--timeout-request-start") was never added. `h11_max_incomplete_event_size`
bounds the headers only for the pure-Python h11 parser (several times slower); httptools'
llhttp takes headers of any size (and buffers one header's value whole). `etablera web`
selects this class by import string through uvicorn's `http=` option, for one worker and
for gunicorn's (interfaces/http/server.py). HAProxy in front (`timeout http-request`,
`tune.bufsize`) does the same at the edge; this makes `etablera web` alone safe too.

What it does, per connection:

- headers: from the connection's start, or from the first byte of a following request,
  the request line and headers must be complete within `header_timeout` seconds, else
  408 and close (a connection that sent nothing is closed without an answer); more than
  `header_bytes` of them: 431 and close;
- body: after the headers, no pause longer than `body_timeout` seconds, and after the
  first `body_timeout` seconds an average of at least `body_min_rate` bytes a second;
  else 408 (if no answer has begun) and close, and the application sees the client gone.
  The clock starts again whenever the server resumes reading after pausing it (the
  application had not asked for more yet, or a 100-continue is still to be sent): time the
  server is not reading is never the client's.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from etablera.interfaces.http.limits import limits
from etablera.statemachine.messages import render

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
_CODES = {408: "request_too_slow", 431: "request_headers_too_large"}


class _Flow(FlowControl):
    """uvicorn's read flow control, telling the protocol when reading resumes."""

    def __init__(self, transport: asyncio.Transport, resumed):
        super().__init__(transport)
        self._resumed = resumed

    def resume_reading(self) -> None:
        if self.read_paused:
            super().resume_reading()
            self._resumed()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with header size and time limits and a body pace (module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limits = limits()
        self._awaiting_headers = True       # the next bytes are a request's line and headers
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._in_body = False
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_clock = self._body_last = 0.0
        self._body_bytes = 0
        self._refused = False               # answered by a limit: the parser's further calls are ignored

    # the connection
    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow = _Flow(transport, self._reading_resumed)
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timers()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        self._stop_timers()
        super().handle_websocket_upgrade()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._awaiting_headers:
            self._head_bytes += len(data)
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_late)
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._awaiting_headers and self._head_bytes > self.limits.header_bytes:
            self._refuse(431)
        elif self._in_body and self._body_timer is None:
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_check)

    # the parser's callbacks
    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._awaiting_headers = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers) + 16
        if size > self.limits.header_bytes:     # they came whole in one read: refused before the application
            self._refuse(431)
            return
        super().on_headers_complete()
        self._in_body = True
        self._body_clock = self._body_last = self.loop.time()
        self._body_bytes = 0

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        self._body_bytes += len(body)
        self._body_last = self.loop.time()
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()
        self._in_body = False
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._awaiting_headers, self._head_bytes = True, 0

    # the limits
    def _reading_resumed(self) -> None:
        self._body_clock = self._body_last = self.loop.time()
        self._body_bytes = 0

    def _head_late(self) -> None:
        self._head_timer = None
        if not self._awaiting_headers or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request's headers come too slowly while the one before is
            # answered: the connection ends after that answer.
            self.cycle.keep_alive = False
            return
        if self._head_bytes:
            self._refuse(408)
        else:
            self.transport.close()

    def _body_check(self) -> None:
        self._body_timer = None
        if not self._in_body or self.transport.is_closing():
            return
        now, t = self.loop.time(), self.limits.body_timeout
        cycle = self.cycle
        if self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue):
            self._reading_resumed()         # not reading: not the client's time
            due = now + t
        else:
            due = min(self._body_last + t, self._body_clock + t + self._body_bytes / self.limits.body_min_rate)
            if now >= due:
                self._refuse(408)
                return
        self._body_timer = self.loop.call_later(max(due - now, 0.05), self._body_check)

    def _refuse(self, status: int) -> None:
        """Answer `status` where no other answer has begun, end the request in hand for the
        application (it sees the client gone) and close."""
        cycle = self.cycle
        busy = cycle is not None and not cycle.response_complete
        if self._in_body:                   # this request's body: answered unless its answer has begun
            write = not cycle.response_started
        else:                               # a request's headers: unless the one before is still answered
            write = not busy
        if write:
            text = render(_CODES[status], {}, "sv").encode() + b"\n"
            self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
                                 b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                                 % (status, _REASONS[status], len(text), text))
        if busy:
            cycle.disconnected = True       # its receive() answers http.disconnect, its send() is dropped
            cycle.message_event.set()
        self._refused = True
        self._stop_timers()
        self.transport.close()

    def _stop_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None
