"""The emulator's event loop: a selector over client sockets driving proton engines.

One thread. Each turn: read what arrived, fire due broker timers, process
engine events, hand receivable messages to consumer links, commit the store,
then write. Nothing reaches a client before the commit, so whatever the
emulator acknowledged is durable. A failure in one connection closes that
connection only.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import selectors
import socket
import threading
from collections.abc import Callable

from localdev.servicebus.amqp.connection import ClientConnection
from localdev.servicebus.amqp.consumers import Consumers
from localdev.servicebus.broker import Broker

log = logging.getLogger("localdev.servicebus")

READ_SIZE = 256 * 1024
MAX_WAIT = 0.5  # seconds between checks of the stop flag


class AmqpServer:
    """Serve AMQP 1.0 on host:port for one broker."""

    def __init__(
        self,
        broker: Broker,
        host: str = "127.0.0.1",
        port: int = 5672,
        lock: threading.Lock | None = None,
    ) -> None:
        self.broker = broker
        # Held while a turn touches the broker; the management API reads under it.
        self.lock = lock or threading.Lock()
        self.consumers = Consumers(broker, self._deliver)
        broker.on_available = self.consumers.available
        self.listener = socket.create_server((host, port), backlog=128, reuse_port=False)
        self.listener.setblocking(False)
        self.address = self.listener.getsockname()[:2]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.clients: dict[socket.socket, ClientConnection] = {}
        self._interest: dict[socket.socket, int] = {}

    def _deliver(self, link: object, message: object) -> None:
        owner: ClientConnection = link.owner  # type: ignore[attr-defined]
        owner.deliver(link, message)  # type: ignore[arg-type]

    def serve(self, should_stop: Callable[[], bool]) -> None:
        """Run until `should_stop()` is true, then close every connection."""
        try:
            while not should_stop():
                self._turn()
        finally:
            self.close()

    def _turn(self) -> None:
        ready = self.selector.select(self._timeout())
        with self.lock:
            for key, mask in ready:
                if key.data is None:
                    self._accept()
                    continue
                client: ClientConnection = key.data
                self._guarded(client, functools.partial(self._io, client, mask))
            self.broker.tick()
            self._process()
            self.broker.commit()
        for client in list(self.clients.values()):
            self._guarded(client, functools.partial(self._write, client))
            self._update_interest(client)

    def _timeout(self) -> float:
        deadline = self.broker.next_deadline()
        if deadline is None:
            return MAX_WAIT
        return max(0.0, min(MAX_WAIT, deadline - self.broker.clock.now()))

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = ClientConnection(sock, self.broker, self.consumers)
            self.clients[sock] = client
            self._interest[sock] = selectors.EVENT_READ
            self.selector.register(sock, selectors.EVENT_READ, client)
            log.debug("connection %s opened", client.peer)

    def _io(self, client: ClientConnection, mask: int) -> None:
        if mask & selectors.EVENT_READ:
            self._read(client)
        if mask & selectors.EVENT_WRITE:
            self._write(client)

    def _read(self, client: ClientConnection) -> None:
        transport = client.transport
        capacity = transport.capacity()
        if capacity < 0:
            return
        try:
            data = client.sock.recv(min(max(capacity, 1), READ_SIZE))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            transport.close_tail()
            return
        try:
            transport.push(data)
        except Exception as exc:  # a malformed frame: the transport is already failed
            log.info("connection %s: bad input: %s", client.peer, exc)
            transport.close_tail()

    def _write(self, client: ClientConnection) -> None:
        transport = client.transport
        while (pending := transport.pending()) > 0:
            try:
                sent = client.sock.send(transport.peek(pending) or b"")
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                transport.close_head()
                break
            transport.pop(sent)
        if pending < 0:  # the engine has written its last frame
            self._drop(client)

    def _process(self) -> None:
        """Drain engine events and pump consumers until neither produces more work."""
        for _ in range(100):
            for client in list(self.clients.values()):
                self._guarded(client, client.process_events)
            if not self.consumers.has_work():
                return
            try:
                self.consumers.pump()
            except Exception:  # a broker bug must cost one pump round, never the whole emulator
                log.exception("consumer pump failed; continuing")

    def _guarded(self, client: ClientConnection, action: Callable[[], object]) -> None:
        if client.closed:
            return
        try:
            action()
        except Exception:
            log.exception("connection %s: internal error; closing it", client.peer)
            self._drop(client)

    def _update_interest(self, client: ClientConnection) -> None:
        if client.closed:
            return
        interest = selectors.EVENT_READ
        if client.transport.pending() > 0:
            interest |= selectors.EVENT_WRITE
        if self._interest.get(client.sock) != interest:
            self._interest[client.sock] = interest
            self.selector.modify(client.sock, interest, client)

    def _drop(self, client: ClientConnection) -> None:
        if client.closed:
            return
        client.closed = True
        client.detach_all()
        self.clients.pop(client.sock, None)
        self._interest.pop(client.sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(client.sock)
        client.sock.close()
        log.debug("connection %s closed", client.peer)

    def close(self) -> None:
        """Close every client and the listener; commit what the broker holds."""
        for client in list(self.clients.values()):
            self._drop(client)
        self.selector.close()
        self.listener.close()
        self.broker.commit()
