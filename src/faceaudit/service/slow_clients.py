"""Cutting off slow clients: a deadline on reading a request's headers and on reading its body.

uvicorn's ``timeout_keep_alive`` only covers an idle connection between requests; a client that
sends its headers (or its body) one byte a second holds a connection, and a slot of the server,
for as long as it likes. :class:`GuardedH11Protocol` is uvicorn's own h11 protocol with a
watchdog per connection:

* **headers** — from the moment a connection opens (or the first byte of the next request on a
  kept-alive one) the whole request head must arrive within ``header_timeout_s``;
* **body** — from the end of the head, the whole body must arrive within ``body_timeout_s``.

A client past either deadline gets ``408 Request Timeout`` (problem+json, ``Connection: close``)
when no response has started, and its connection is closed; the cut is logged (warning on the
``faceaudit.service`` logger: client address, phase, seconds, bytes received). The application
sees a closed connection as ``http.disconnect``. Once a request has been read, its time is the
image pool's to bound (``image_time_limit_s``), not these deadlines'.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from faceaudit.service.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE

log = logging.getLogger("faceaudit.service")

_HEADERS = "headers"
_BODY = "body"


def _timeout_response(detail: str) -> bytes:
    body = json.dumps({"type": PROBLEM_BASE + "request-timeout", "title": "Request Timeout",
                       "status": 408, "detail": detail}).encode()
    head = (f"HTTP/1.1 408 Request Timeout\r\ncontent-type: {PROBLEM_MEDIA_TYPE}\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header and body read deadlines (see the module docstring).

    Subclass it with :func:`guarded_protocol` to set the deadlines; uvicorn instantiates the
    class once per connection.
    """

    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: str | None = None
        self._phase_began = 0.0
        self._received = 0
        self._watchdog: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ the watched phases

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header deadline as soon as the connection opens."""
        super().connection_made(transport)
        self._begin(_HEADERS)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Feed uvicorn, then move the deadline on when the head or the body is complete."""
        if self._phase is None and self.conn.their_state is h11.IDLE:
            self._begin(_HEADERS)  # the first byte of the next request on a kept-alive connection
        self._received += len(data)
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        """Between requests the keep-alive timeout applies, not the read deadlines."""
        self._phase = None
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the watchdog with the connection."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        super().connection_lost(exc)

    def _begin(self, phase: str) -> None:
        self._phase = phase
        self._phase_began = time.monotonic()
        self._received = 0

    def _follow(self) -> None:
        state = self.conn.their_state
        if self._phase == _HEADERS and state is h11.SEND_BODY:
            self._begin(_BODY)
        elif self._phase in (_HEADERS, _BODY) and state not in (h11.IDLE, h11.SEND_BODY):
            self._phase = None  # the request is read: the application has it
        elif self._phase is None and state is h11.IDLE and self.conn.trailing_data[0]:
            self._begin(_HEADERS)  # a pipelined request is already arriving

    # ------------------------------------------------------------ the watchdog

    def _arm(self) -> None:
        tick = min(self.header_timeout_s, self.body_timeout_s) / 4
        self._watchdog = self.loop.call_later(min(1.0, max(0.05, tick)), self._watch)

    def _watch(self) -> None:
        self._watchdog = None
        if self.transport is None or self.transport.is_closing():
            return
        if self._phase is not None:
            limit = self.header_timeout_s if self._phase == _HEADERS else self.body_timeout_s
            waited = time.monotonic() - self._phase_began
            if waited > limit:
                self._cut(self._phase, waited, limit)
                return
        self._arm()

    def _cut(self, phase: str, waited: float, limit: float) -> None:
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown client"
        log.warning("closing slow client %s: request %s not complete after %.1f s"
                    " (limit %g s, %d bytes received)", client, phase, waited, limit,
                    self._received)
        state = self.conn.our_state
        if state is h11.IDLE or (state is h11.SEND_RESPONSE and not (
                self.cycle is not None and self.cycle.response_started)):
            self.transport.write(_timeout_response(
                f"the request {phase} did not arrive within {limit:g} s"))
        self._phase = None
        self.transport.close()


def guarded_protocol(header_timeout_s: float, body_timeout_s: float) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` class with these deadlines, for ``uvicorn.Config(http=…)``."""
    if header_timeout_s <= 0 or body_timeout_s <= 0:
        raise ValueError("read deadlines must be positive")
    return type("GuardedH11Protocol", (GuardedH11Protocol,),
                {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s})
