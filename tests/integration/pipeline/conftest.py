"""Integration fixtures for the pipeline: real tables on Azurite, a fault-injecting TCP proxy."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from localdev.azurite import Azurite, connection_string
from shared.clients import build_table_service_client
from shared.settings import Settings
from shared.tablestore import AzureTableStore
from tests.fixtures.ports import free_port


def make_store(tables_connection: str, table_name: str, create: bool = True) -> AzureTableStore:
    """An `AzureTableStore` built exactly as the app builds it (SDK retries off)."""
    service = build_table_service_client(Settings(TablesConnection=tables_connection))
    store = AzureTableStore(service.get_table_client(table_name))
    if create:
        store.ensure_table()
    return store


@pytest.fixture
def store_factory(
    tables_connection_string: str, table_name_factory: Callable[[str], str]
) -> Callable[[], AzureTableStore]:
    """Fresh Azurite tables (deleted after the test by `table_name_factory`)."""
    return lambda: make_store(tables_connection_string, table_name_factory("pipe"))


class FaultyProxy:
    """A TCP proxy in front of a real server that breaks the first connections it sees.

    While `busy` > 0 a new connection's request gets `503 Server Busy` and the
    connection closes; while `resets` > 0 it is reset without an answer. Other
    connections are piped through (a kept-alive connection stays healthy).
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.busy = 0
        self.resets = 0
        self.refused = 0  # requests broken so far
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self.resets > 0:
            self.resets -= 1
            self.refused += 1
            _read_request(client)
            client.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            client.close()  # RST: the client sees a connection reset
            return
        if self.busy > 0:
            self.busy -= 1
            self.refused += 1
            _read_request(client)
            client.sendall(
                b"HTTP/1.1 503 Server Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            client.close()
            return
        with client, socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
            forward = threading.Thread(target=_pipe, args=(client, upstream), daemon=True)
            forward.start()
            _pipe(upstream, client)
            forward.join(timeout=5)

    def connection_string(self) -> str:
        return connection_string(table_port=self.port)

    def close(self) -> None:
        self._closed = True
        self._server.close()


def _read_request(sock: socket.socket) -> None:
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return
        body += chunk


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def faulty_proxy(azurite: Azurite) -> Iterator[FaultyProxy]:
    """A `FaultyProxy` in front of the session's Azurite."""
    proxy = FaultyProxy(azurite.table_port)
    yield proxy
    proxy.close()
