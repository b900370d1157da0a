"""Small HTTP(S) servers on 127.0.0.1 standing in for what ops' HTTP clients talk to.

Each server answers with a fresh subclass of the handler it is given, so the
class attributes a test reads or sets (`seen`, a canned answer) belong to
that one server, never to the next test.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar


class RecordingHandler(BaseHTTPRequestHandler):
    """Keeps the headers of each request it reads (names in lower case) in `seen`; logs nothing."""

    seen: list[dict[str, str]] = []

    def record(self) -> None:
        """Keep this request's headers and read its body (which no test needs)."""
        type(self).seen.append({name.lower(): value for name, value in self.headers.items()})
        self.rfile.read(int(self.headers.get("content-length") or 0))

    def answer(
        self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> None:
        """Send `status` with `headers`, the body's length, then the body."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


Handler = TypeVar("Handler", bound=RecordingHandler)


@contextmanager
def serving(
    handler: type[Handler], tls: ssl.SSLContext | None = None, **attributes: Any
) -> Iterator[tuple[int, type[Handler]]]:
    """`handler` on a free port in a thread (HTTPS with `tls`): yields the port and its subclass.

    The subclass starts with an empty `seen` and the class attributes given as `attributes`.
    """
    answering = type(handler.__name__, (handler,), {"seen": [], **attributes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), answering)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port, answering
    finally:
        server.shutdown()
        server.server_close()
