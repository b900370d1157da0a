"""Receive links waiting for messages, and the pump that hands messages to them.

Like Service Bus, a link gets messages whenever it has credit, at once: a
message that arrives, is abandoned, released or whose lock expires goes to a
link with outstanding credit as soon as the broker has it.

When the SDK releases a message (it arrived while no receive call was active),
the releasing link moves to the back of the rotation, so another link with
credit gets that message first. If it is the only link, the message goes back
to it; that repeats at most once per credit the client left outstanding (the
SDK stops granting credit between receive calls), and the SDK takes it as soon
as a receive call is active again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from localdev.servicebus.broker import Broker, LockLost, StoredMessage

log = logging.getLogger("localdev.servicebus")

UNRENDERABLE_REASON = "MessageNotRenderable"


class Consumers:
    """Every consumer link, by broker path."""

    def __init__(self, broker: Broker, send: Callable[[Any, StoredMessage], None]) -> None:
        self._broker = broker
        self._send = send
        self._links: dict[str, list[Any]] = {}
        self._dirty: set[str] = set()

    def add(self, path: str, link: Any) -> None:
        self._links.setdefault(path, []).append(link)
        self._dirty.add(path)

    def remove(self, path: str, link: Any) -> None:
        links = self._links.get(path, [])
        if link in links:
            links.remove(link)

    def available(self, path: str) -> None:
        """The broker has something receivable at `path` (called by the broker)."""
        self._dirty.add(path)

    def wake(self, path: str) -> None:
        """A link at `path` got credit (or asked to drain)."""
        self._dirty.add(path)

    def released(self, path: str, link: Any) -> None:
        """`link` gave a message back unseen: offer it to the other links first."""
        links = self._links.get(path, [])
        if link in links:
            links.remove(link)
            links.append(link)
        self._dirty.add(path)

    def has_work(self) -> bool:
        return bool(self._dirty)

    def pump(self) -> None:
        """Hand receivable messages to links with credit, one per link per round."""
        dirty, self._dirty = self._dirty, set()
        for path in dirty:
            links = self._links.get(path)
            if not links:
                continue
            ready = [link for link in links if link.credit > 0]
            while ready:
                next_round: list[Any] = []
                for link in ready:
                    message = self._broker.receive(path, lock=not link.receive_and_delete)
                    if message is None:
                        next_round = []
                        break
                    try:
                        self._send(link, message)
                    except Exception as exc:  # one bad record must not stop the loop
                        self._unrenderable(path, message, exc)
                    if link.credit > 0:
                        next_round.append(link)
                ready = next_round
            links.append(links.pop(0))  # rotate: another link goes first next time
            for link in links:
                if link.drain_mode and link.credit > 0:
                    link.drained()

    def _unrenderable(self, path: str, message: StoredMessage, exc: Exception) -> None:
        """Take a message that cannot be sent out of circulation, saying where it went."""
        token = message.lock_token
        outcome = "dropped"
        if token is not None:
            try:
                self._broker.dead_letter(path, token, UNRENDERABLE_REASON, str(exc)[:200])
                outcome = "dead-lettered"
            except LockLost:  # already a dead letter: nowhere further to go
                self._broker.complete(path, token)
        log.error(
            "%s: message sequence=%d id=%r cannot be rendered (%s: %s); %s",
            path,
            message.sequence_number,
            message.message_id,
            type(exc).__name__,
            exc,
            outcome,
        )
