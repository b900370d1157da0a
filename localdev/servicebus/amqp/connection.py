"""One client connection: proton engine events translated into broker calls.

Links are classified at attach by address: the CBS node (put-token), an
entity's `$management` node, an entity sender link (we receive messages) or an
entity receiver link (a consumer we push messages to). Per-link state lives in
proton's wrapper attributes (`link.kind`, `link.path`, ...).
"""

from __future__ import annotations

import itertools
import logging
import socket
import struct
import uuid
from collections import deque
from typing import Any

from proton import (
    Collector,
    Condition,
    Connection,
    Delivery,
    Disposition,
    Event,
    Link,
    Terminus,
    Transport,
    symbol,
)

from localdev.servicebus.amqp import conditions
from localdev.servicebus.amqp.addresses import parse_address
from localdev.servicebus.amqp.auth import TokenRejected, token_text, validate_sas_token
from localdev.servicebus.amqp.codec import DecodeError
from localdev.servicebus.amqp.consumers import Consumers
from localdev.servicebus.amqp.management import handle as handle_management
from localdev.servicebus.amqp.message_format import parse_transfer, render
from localdev.servicebus.amqp.requests import (
    Request,
    decode_request,
    encode_reply,
    status_properties,
)
from localdev.servicebus.amqp.validation import InvalidField
from localdev.servicebus.broker import (
    Broker,
    BrokerError,
    EntityNotFound,
    LockLost,
    MessageTooLarge,
    StoredMessage,
)

log = logging.getLogger("localdev.servicebus")

RECEIVER_CREDIT = 200
MAX_MESSAGE_SIZE = 256 * 1024  # Standard tier; advertised on sender links, checked per message
MAX_TRANSFER_SIZE = 1024 * 1024  # a whole batch transfer
_SETTLED = Link.SND_SETTLED
_tags = itertools.count(1)


class ClientConnection:
    """The engine state of one TCP client and the handlers for its events."""

    def __init__(self, sock: socket.socket, broker: Broker, consumers: Consumers) -> None:
        self.sock = sock
        self.broker = broker
        self.consumers = consumers
        self.peer = "{}:{}".format(*sock.getpeername()[:2])
        self.connection = Connection()
        self.transport = Transport(Transport.SERVER)
        self.transport.sasl().allowed_mechs("ANONYMOUS")
        self.transport.bind(self.connection)
        self.collector = Collector()
        self.connection.collect(self.collector)
        self.authorized = False
        self.reply_links: dict[str, Any] = {}
        self.consumer_links: list[Any] = []
        self.closed = False

    # ------------------------------------------------------------------ events
    def process_events(self) -> None:
        while (event := self.collector.peek()) is not None:
            try:
                self._dispatch(event)
            finally:
                self.collector.pop()

    def _dispatch(self, event: Any) -> None:
        kind = event.type
        if kind == Event.CONNECTION_REMOTE_OPEN:
            self.connection.container = "localdev-servicebus"
            self.connection.open()
        elif kind == Event.SESSION_REMOTE_OPEN:
            event.session.open()
        elif kind == Event.LINK_REMOTE_OPEN:
            self._attach(event.link)
        elif kind == Event.LINK_FLOW:
            self._flow(event.link)
        elif kind == Event.DELIVERY:
            self._delivery(event.delivery)
        elif kind in (Event.LINK_REMOTE_CLOSE, Event.LINK_REMOTE_DETACH):
            self._forget_link(event.link)
            event.link.close()
        elif kind == Event.SESSION_REMOTE_CLOSE:
            event.session.close()
        elif kind == Event.CONNECTION_REMOTE_CLOSE:
            self.connection.close()
        elif kind == Event.TRANSPORT_ERROR:
            condition = self.transport.condition
            log.debug(
                "connection %s: transport error %s",
                self.peer,
                condition.description if condition else "",
            )

    # ----------------------------------------------------------------- attach
    def _attach(self, link: Any) -> None:
        link.snd_settle_mode = link.remote_snd_settle_mode
        link.rcv_settle_mode = link.remote_rcv_settle_mode
        link.kind = None
        link.path = ""
        link.receive_and_delete = False
        address_text = link.remote_source.address if link.is_sender else link.remote_target.address
        try:
            address = parse_address(address_text)
            if address.kind != "cbs" and not self.authorized:
                self._refuse(
                    link,
                    conditions.UNAUTHORIZED,
                    "Unauthorized access: put a valid token on $cbs first.",
                )
                return
            if address.kind != "cbs":
                link.path = self.broker.resolve(address.entity)
        except (ValueError, EntityNotFound) as exc:
            self._refuse(link, conditions.NOT_FOUND, str(exc))
            return
        # The SDK drops an attach without source or target; a refused link gets neither
        # (see `_refuse`), so the detach's error is what the SDK reports.
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        link.kind = address.kind
        if link.is_receiver:
            if address.kind == "entity":
                link.max_message_size = MAX_MESSAGE_SIZE
            link.open()
            link.flow(RECEIVER_CREDIT)
            return
        link.outbox = deque()
        link.open()
        if address.kind == "entity":
            link.receive_and_delete = link.remote_snd_settle_mode == _SETTLED
            link.owner = self
            self.consumer_links.append(link)
            self.consumers.add(link.path, link)
        else:
            self.reply_links[address_text or ""] = link

    @staticmethod
    def _refuse(link: Any, condition: str, description: str) -> None:
        # Null source and target, like Service Bus: the SDK leaves the link unattached and
        # then raises the detach's error (amqp:not-found -> MessagingEntityNotFoundError).
        link.source.type = Terminus.UNSPECIFIED
        link.target.type = Terminus.UNSPECIFIED
        link.open()
        link.condition = _condition(condition, description)
        link.close()

    def _forget_link(self, link: Any) -> None:
        if getattr(link, "kind", None) == "entity" and link.is_sender:
            self.consumers.remove(link.path, link)
            if link in self.consumer_links:
                self.consumer_links.remove(link)

    def _flow(self, link: Any) -> None:
        if not link.is_sender or getattr(link, "kind", None) is None:
            return
        if link.kind == "entity":
            self.consumers.wake(link.path)
        else:
            self._flush_outbox(link)

    # --------------------------------------------------------------- delivery
    def _delivery(self, delivery: Any) -> None:
        link = delivery.link
        if getattr(link, "kind", None) is None:
            delivery.settle()
            return
        if link.is_receiver:
            self._incoming(link, delivery)
        else:
            self._outcome(link, delivery)

    def _incoming(self, link: Any, delivery: Any) -> None:
        if delivery.aborted:
            delivery.settle()
            return
        if not delivery.readable or delivery.partial:
            return
        raw = link.recv(delivery.pending) or b""
        link.advance()
        if link.kind == "entity":
            self._send_to_entity(link, delivery, raw)
        elif link.kind == "cbs":
            self._put_token(link, delivery, raw)
        else:
            self._management(link, delivery, raw)
        if link.credit < RECEIVER_CREDIT // 2:
            link.flow(RECEIVER_CREDIT - link.credit)

    def _send_to_entity(self, link: Any, delivery: Any, raw: bytes) -> None:
        try:
            if len(raw) > MAX_TRANSFER_SIZE:
                raise MessageTooLarge(f"The transfer of {len(raw)} bytes is over the 1 MiB limit.")
            self.broker.send(link.path, parse_transfer(raw))
            delivery.update(Delivery.ACCEPTED)
        except MessageTooLarge as exc:
            self._reject(delivery, conditions.MESSAGE_SIZE_EXCEEDED, str(exc))
        except InvalidField as exc:
            self._reject(delivery, conditions.INVALID_FIELD, f"The message is refused: {exc}")
        except DecodeError as exc:
            self._reject(delivery, conditions.DECODE_ERROR, f"The message is not valid AMQP: {exc}")
        except EntityNotFound as exc:
            self._reject(delivery, conditions.NOT_FOUND, str(exc))
        delivery.settle()

    @staticmethod
    def _reject(delivery: Any, condition: str, description: str) -> None:
        delivery.local.condition = _condition(condition, description)
        delivery.update(Delivery.REJECTED)

    @staticmethod
    def _accept_request(delivery: Any, raw: bytes) -> Request | None:
        """Accept and settle a CBS or management request; its decoded form, None if garbled."""
        delivery.update(Delivery.ACCEPTED)
        delivery.settle()
        try:
            return decode_request(raw)
        except DecodeError:
            return None

    def _put_token(self, link: Any, delivery: Any, raw: bytes) -> None:
        request = self._accept_request(delivery, raw)
        if request is None:
            return
        status, description = 202, "Accepted"
        try:
            validate_sas_token(token_text(request.body), self.broker.clock.now())
            self.authorized = True
        except TokenRejected as exc:
            status, description = 401, f"InvalidSignature: {exc}"
            log.info("connection %s: put-token refused: %s", self.peer, exc)
        props = status_properties(status, description, None, cbs=True)
        self._reply(link, request.reply_to, encode_reply(request.message_id, props, None))

    def _management(self, link: Any, delivery: Any, raw: bytes) -> None:
        request = self._accept_request(delivery, raw)
        if request is None:
            return
        operation = request.application_properties.get("operation")
        reply = handle_management(self.broker, link.path, str(operation), request.body)
        props = status_properties(reply.status, reply.description, reply.condition)
        self._reply(link, request.reply_to, encode_reply(request.message_id, props, reply.body))

    def _reply(self, request_link: Any, reply_to: str | None, payload: bytes) -> None:
        node = request_link.remote_target.address or ""
        address = reply_to or node
        reply_link = self.reply_links.get(address) or self.reply_links.get(node)
        if reply_link is None:
            log.info("connection %s: no reply link for %r", self.peer, address)
            return
        reply_link.outbox.append(payload)
        self._flush_outbox(reply_link)

    @staticmethod
    def _flush_outbox(link: Any) -> None:
        while link.outbox and link.credit > 0:
            delivery = link.delivery(struct.pack(">Q", next(_tags)))
            link.send(link.outbox.popleft())
            link.advance()
            delivery.settle()

    # ------------------------------------------------------------- consumers
    def deliver(self, link: Any, message: StoredMessage) -> None:
        """Push one message (already locked or removed by the broker) down a consumer link."""
        # Render before the delivery exists: a message that cannot be rendered raises
        # here with the link untouched, and the pump dead-letters it.
        if link.receive_and_delete:
            encoded = render(message)
            delivery = link.delivery(struct.pack(">Q", next(_tags)))
            link.send(encoded)
            link.advance()
            delivery.settle()
            return
        token = message.lock_token
        assert token is not None
        encoded = render(message, locked_until=message.locked_until)
        delivery = link.delivery(token.bytes_le)
        delivery.lock_token = token
        delivery.handled = False
        link.send(encoded)
        link.advance()

    def _outcome(self, link: Any, delivery: Any) -> None:
        token: uuid.UUID | None = getattr(delivery, "lock_token", None)
        if token is None or getattr(delivery, "handled", True):
            if delivery.settled:
                delivery.settle()
            return
        state = delivery.remote_state
        if not state and not delivery.settled:
            return
        delivery.handled = True
        try:
            echo = self._settle(link, token, state, delivery.remote)
        except LockLost as exc:
            delivery.local.condition = _condition(conditions.MESSAGE_LOCK_LOST, str(exc))
            echo = Delivery.REJECTED
        except BrokerError as exc:
            delivery.local.condition = _condition(conditions.INTERNAL_ERROR, str(exc))
            echo = Delivery.REJECTED
        if echo is not None and not delivery.settled:
            delivery.update(echo)
        delivery.settle()

    def _settle(self, link: Any, token: uuid.UUID, state: int, remote: Disposition) -> int | None:
        path = link.path
        if state == Delivery.ACCEPTED:
            self.broker.complete(path, token)
            return Delivery.ACCEPTED
        if state == Delivery.REJECTED:
            condition = remote.condition
            info: dict[Any, Any] = {}
            if condition is not None and isinstance(condition.info, dict):
                info = condition.info
            reason = info.get("DeadLetterReason")
            fallback = condition.description if condition is not None else None
            description = info.get("DeadLetterErrorDescription", fallback)
            self.broker.dead_letter(path, token, _text(reason), _text(description))
            return Delivery.REJECTED
        if state == Delivery.MODIFIED:
            if remote.undeliverable:
                self.broker.defer(path, token)
            else:
                self.broker.abandon(path, token)
            return Delivery.MODIFIED
        # RELEASED, or settled with no outcome: hand back without counting a delivery.
        try:
            self.broker.release(path, token)
        except LockLost:
            return None
        self.consumers.released(path, link)
        return None

    # ------------------------------------------------------------------ close
    def detach_all(self) -> None:
        """Forget this connection's consumer links (its locks stay until they expire)."""
        for link in list(self.consumer_links):
            self.consumers.remove(link.path, link)
        self.consumer_links.clear()
        self.reply_links.clear()


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _condition(name: str, description: str) -> Condition:
    # pyamqp indexes error[2] (info) unconditionally, so the info map must be present.
    return Condition(name, description, {symbol("com.microsoft:tracking-id"): str(uuid.uuid4())})
