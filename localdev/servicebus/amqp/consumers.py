"""Receive links waiting for messages, and the pump that hands messages to them.

A link gets messages while it has credit. When the SDK releases a message (it
arrived while no receive call was active), the link is paused until the client
grants credit again: otherwise the message would bounce between broker and
client for as long as leftover credit lasts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from localdev.servicebus.broker import Broker, StoredMessage

RESUME_AFTER_RELEASE = (
    1.0  # seconds; a paused link gets messages again after this even without a flow
)


class Consumers:
    """Every consumer link, by broker path."""

    def __init__(self, broker: Broker, send: Callable[[Any, StoredMessage], None]) -> None:
        self._broker = broker
        self._send = send
        self._links: dict[str, list[Any]] = {}
        self._dirty: set[str] = set()
        self._counter = itertools.count()

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
        self._dirty.add(path)

    def has_work(self) -> bool:
        return bool(self._dirty)

    def paused_until(self) -> float | None:
        """The earliest time a paused link resumes on its own, if any link is paused."""
        times = [
            link.paused_until
            for links in self._links.values()
            for link in links
            if link.paused_until
        ]
        return min(times) if times else None

    def resume_due(self, now: float) -> None:
        """Wake the paths of paused links whose pause is over."""
        for path, links in self._links.items():
            if any(link.paused_until and link.paused_until <= now for link in links):
                self._dirty.add(path)

    def pump(self, now: float) -> None:
        """Hand receivable messages to links with credit, one per link per round."""
        dirty, self._dirty = self._dirty, set()
        for path in dirty:
            links = self._links.get(path)
            if not links:
                continue
            ready = [link for link in links if self._ready(link, now)]
            while ready:
                next_round: list[Any] = []
                for link in ready:
                    message = self._broker.receive(path, lock=not link.receive_and_delete)
                    if message is None:
                        next_round = []
                        break
                    self._send(link, message)
                    if link.credit > 0:
                        next_round.append(link)
                ready = next_round
            links.append(links.pop(0))  # rotate: another link goes first next time
            for link in links:
                if link.drain_mode and link.credit > 0:
                    link.drained()

    @staticmethod
    def _ready(link: Any, now: float) -> bool:
        if link.credit <= 0:
            return False
        if link.paused_until and link.paused_until > now:
            return False
        link.paused_until = 0.0
        return True
