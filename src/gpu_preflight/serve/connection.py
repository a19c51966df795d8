"""uvicorn's HTTP/1.1 protocol (h11), with one change: a client that sends a whole request and
then shuts down its writing side (``shutdown(SHUT_WR)``) still gets its answer (issue 17).

TCP cannot tell that half-close from a client that closed the socket and went away: both
arrive as EOF. uvicorn answers EOF by closing the connection, which the app sees as
``http.disconnect`` (499, the generation stopped) and the half-closed client gets nothing.
Here EOF after a complete request keeps the connection open for writing; the answer goes
out and the connection is closed after it. A client that really went away is then noticed
when a write to it fails: at the next token of a stream (the generation stops there), but
only at the very end of a non-streaming answer, which is generated in full (bounded by its
max_tokens) before the write fails quietly. EOF before a request is complete, or between
requests, still closes the connection as before: the client is gone.
"""

from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class HalfCloseProtocol(H11Protocol):
    """Pass as ``uvicorn.Config(http=HalfCloseProtocol)``."""

    peer_closed = False  # the client sent EOF after a complete request: answer, then close

    def eof_received(self) -> bool | None:  # type: ignore[override]  # asyncio's signature
        if self.peer_closed:
            return True  # reading resumed after a pause and met the same EOF again
        cycle = self.cycle
        if cycle is None or cycle.more_body or cycle.response_complete or cycle.disconnected:
            return None  # nothing owed (idle) or the request is unfinished: close, as uvicorn does
        self.peer_closed = True
        return True  # keep the transport open for writing; its reader is removed

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request already received
        if not self.peer_closed or self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.more_body:
            return  # a pipelined request that arrived whole before the EOF: answer it too
        # Nothing more can arrive: close now rather than after the keep-alive timeout (a
        # pipelined request left unfinished then sees http.disconnect).
        self._unset_keepalive_if_required()
        try:
            self.conn.send(h11.ConnectionClosed())
        except h11.LocalProtocolError:
            pass
        self.transport.close()
