"""The broker: queue semantics over `MessageQueue`s, with time from an injectable clock.

Peek-lock with lock expiry and redelivery, delivery counts, MaxDeliveryCount
and TTL dead-lettering, defer, schedule, duplicate detection. Single-threaded:
the wire layer calls in from its event loop, calls `tick()` when
`next_deadline()` passes, and `commit()` before it acknowledges anything.
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from localdev.servicebus.broker.clock import Clock, SystemClock
from localdev.servicebus.broker.config import QueueSettings
from localdev.servicebus.broker.errors import (
    EntityNotFound,
    LockLost,
    MessageNotFound,
    MessageTooLarge,
)
from localdev.servicebus.broker.messages import IncomingMessage, MessageState, StoredMessage
from localdev.servicebus.broker.queue import MessageQueue
from localdev.servicebus.broker.runtime import QueueRuntime
from localdev.servicebus.broker.store import MemoryStore, Store

DEAD_LETTER_SUFFIX = "/$deadletterqueue"
MAX_DELIVERY_COUNT_REASON = "MaxDeliveryCountExceeded"
MAX_DELIVERY_COUNT_DESCRIPTION = "Message could not be consumed after {} delivery attempts."
TTL_EXPIRED_REASON = "TTLExpiredException"
TTL_EXPIRED_DESCRIPTION = "The message expired and was dead lettered."

_LOCK, _SCHEDULE, _EXPIRY = "lock", "schedule", "expiry"


@dataclass
class _Entity:
    """A queue, its dead-letter sub-queue and its bookkeeping."""

    settings: QueueSettings
    active: MessageQueue
    dead_letter: MessageQueue
    last_sequence: int = 0
    accessed_at: float = 0.0  # last send or receive, for the management API
    seen_ids: OrderedDict[str, float] = field(
        default_factory=OrderedDict
    )  # message id -> forget after


class Broker:
    """Every configured queue, and the operations the wire layer maps its frames to."""

    def __init__(
        self,
        queues: Iterable[QueueSettings],
        clock: Clock | None = None,
        store: Store | None = None,
        on_available: Callable[[str], None] | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.store: Store = store or MemoryStore()
        self.on_available = on_available or (lambda path: None)
        self._entities: dict[str, _Entity] = {}
        self._queues: dict[str, tuple[_Entity, MessageQueue]] = {}
        self._timers: list[tuple[float, int, str, str, int]] = []
        self._timer_ids = itertools.count()
        self.created_at = self.clock.now()  # entities come from the config at start-up
        for settings in queues:
            name = settings.name.lower()
            entity = _Entity(settings, MessageQueue(name), MessageQueue(name + DEAD_LETTER_SUFFIX))
            entity.accessed_at = self.created_at
            self._entities[name] = entity
            self._queues[entity.active.path] = (entity, entity.active)
            self._queues[entity.dead_letter.path] = (entity, entity.dead_letter)
        self._restore()

    # ----------------------------------------------------------------- lookups
    def queue_names(self) -> list[str]:
        return [entity.settings.name for entity in self._entities.values()]

    def resolve(self, path: str) -> str:
        """The canonical path of a queue or `<queue>/$DeadLetterQueue` (case-insensitive)."""
        canonical = path.strip("/").lower()
        if canonical not in self._queues:
            raise EntityNotFound(f"The messaging entity '{path}' could not be found.")
        return canonical

    def settings(self, path: str) -> QueueSettings:
        return self._lookup(path)[0].settings

    def runtime(self, name: str) -> QueueRuntime:
        """A queue's counts, size and times, as the management API reports them."""
        entity = self._entities.get(name.strip("/").lower())
        if entity is None:
            raise EntityNotFound(f"The messaging entity '{name}' could not be found.")
        return QueueRuntime.of(
            entity.settings,
            entity.active,
            entity.dead_letter,
            created_at=self.created_at,
            accessed_at=entity.accessed_at,
        )

    def _lookup(self, path: str) -> tuple[_Entity, MessageQueue]:
        try:
            return self._queues[path]
        except KeyError:
            raise EntityNotFound(f"The messaging entity '{path}' could not be found.") from None

    # ----------------------------------------------------------------- sending
    def send(self, path: str, messages: Sequence[IncomingMessage]) -> list[int]:
        """Enqueue messages (scheduled ones wait for their time); duplicates are dropped quietly."""
        entity, queue = self._lookup(path)
        if queue is entity.dead_letter:
            raise EntityNotFound(f"cannot send to the dead-letter queue '{path}'")
        limit = entity.settings.max_message_size
        for message in messages:
            if len(message.payload) > limit:
                size = len(message.payload)
                raise MessageTooLarge(
                    f"The message of {size} bytes exceeds the limit of {limit} bytes."
                )
        now = self.clock.now()
        entity.accessed_at = now
        sequence_numbers = [self._enqueue(entity, message, now) for message in messages]
        self.store.save_last_sequence(entity.active.path, entity.last_sequence)
        return sequence_numbers

    def _enqueue(self, entity: _Entity, incoming: IncomingMessage, now: float) -> int:
        entity.last_sequence += 1
        seq = entity.last_sequence
        if self._is_duplicate(entity, incoming.message_id, now):
            return seq
        scheduled = incoming.scheduled_enqueue_time
        message = StoredMessage(
            sequence_number=seq,
            payload=incoming.payload,
            message_id=incoming.message_id,
            enqueued_time=now,
            time_to_live=incoming.time_to_live,
            expires_at=None,
        )
        if scheduled is not None and scheduled > now:
            message.state = MessageState.SCHEDULED
            message.scheduled_enqueue_time = scheduled
            self._timer(scheduled, _SCHEDULE, entity.active.path, seq)
        else:
            message.scheduled_enqueue_time = scheduled
            self._set_expiry(entity, message, now)
        entity.active.add(message)
        self.store.save(entity.active.path, message)
        if message.state is MessageState.ACTIVE:
            self.on_available(entity.active.path)
        return seq

    def _is_duplicate(self, entity: _Entity, message_id: str | None, now: float) -> bool:
        if not entity.settings.requires_duplicate_detection or message_id is None:
            return False
        seen = entity.seen_ids
        pruned = False
        while seen:
            oldest, forget_after = next(iter(seen.items()))
            if forget_after > now:
                break
            del seen[oldest]
            pruned = True
        if pruned:
            self.store.forget_message_ids(entity.active.path, now)
        if message_id in seen:
            return True
        seen[message_id] = now + entity.settings.duplicate_window
        self.store.remember_message_id(entity.active.path, message_id, seen[message_id])
        return False

    def _set_expiry(self, entity: _Entity, message: StoredMessage, now: float) -> None:
        ttl = entity.settings.default_ttl
        if message.time_to_live is not None and 0 < message.time_to_live < ttl:
            ttl = message.time_to_live
        message.enqueued_time = now
        message.expires_at = now + ttl
        self._timer(message.expires_at, _EXPIRY, entity.active.path, message.sequence_number)

    def cancel_scheduled(self, path: str, sequence_numbers: Iterable[int]) -> None:
        """Drop scheduled messages before they are enqueued."""
        _, queue = self._lookup(path)
        for seq in sequence_numbers:
            message = queue.get(seq)
            if message is None or message.state is not MessageState.SCHEDULED:
                raise MessageNotFound(f"No scheduled message with sequence number {seq}.")
            self._delete(queue, message)

    # --------------------------------------------------------------- receiving
    def receive(self, path: str, *, lock: bool = True) -> StoredMessage | None:
        """The next receivable message: locked (peek-lock) or removed (receive-and-delete)."""
        entity, queue = self._lookup(path)
        now = self.clock.now()
        entity.accessed_at = now
        while (message := queue.next_ready()) is not None:
            if (
                queue is entity.active
                and message.expires_at is not None
                and message.expires_at <= now
            ):
                self._expire(entity, message)
                continue
            if lock:
                queue.lock(message, now + entity.settings.lock_duration)
                self._timer(
                    now + entity.settings.lock_duration, _LOCK, path, message.sequence_number
                )
            else:
                self._delete(queue, message)
            return message
        return None

    def has_ready(self, path: str) -> bool:
        return self._lookup(path)[1].has_ready()

    def receive_deferred(self, path: str, sequence_numbers: Sequence[int]) -> list[StoredMessage]:
        """Lock deferred messages by sequence number (they stay deferred until settled)."""
        entity, queue = self._lookup(path)
        now = self.clock.now()
        found = []
        for seq in sequence_numbers:
            message = queue.get(seq)
            if message is None or message.state is not MessageState.DEFERRED or message.locked:
                raise MessageNotFound(
                    f"No deferred message with sequence number {seq} is available."
                )
            found.append(message)
        for message in found:
            queue.lock(message, now + entity.settings.lock_duration)
            self._timer(now + entity.settings.lock_duration, _LOCK, path, message.sequence_number)
        return found

    def peek(self, path: str, from_sequence_number: int, count: int) -> list[StoredMessage]:
        """Messages in any state, in sequence order, without locking them."""
        return self._lookup(path)[1].peek(from_sequence_number, count)

    # -------------------------------------------------------------- settlement
    def _locked(self, path: str, token: uuid.UUID) -> tuple[_Entity, MessageQueue, StoredMessage]:
        entity, queue = self._lookup(path)
        message = queue.locked(token)
        if (
            message is None
            or message.locked_until is None
            or message.locked_until <= self.clock.now()
        ):
            raise LockLost(
                "The lock supplied is invalid. Either the lock expired, "
                "or the message has already been removed from the queue."
            )
        return entity, queue, message

    def complete(self, path: str, token: uuid.UUID) -> None:
        """Settle successfully: the message is gone."""
        _, queue, message = self._locked(path, token)
        self._delete(queue, message)

    def abandon(self, path: str, token: uuid.UUID) -> None:
        """Give the message back; its delivery count goes up (and may dead-letter it)."""
        entity, queue, message = self._locked(path, token)
        self._fail_delivery(entity, queue, message)

    def release(self, path: str, token: uuid.UUID) -> None:
        """Give back a message the client never handed to its application: no delivery counted."""
        entity, queue, message = self._locked(path, token)
        queue.unlock(message)
        self._return(entity, queue, message)

    def defer(self, path: str, token: uuid.UUID) -> None:
        """Set the message aside; only `receive_deferred` by sequence number reaches it again."""
        _, queue, message = self._locked(path, token)
        queue.unlock(message)
        message.state = MessageState.DEFERRED
        self.store.update(queue.path, message)

    def dead_letter(
        self, path: str, token: uuid.UUID, reason: str | None, description: str | None
    ) -> None:
        """Move the message to the dead-letter sub-queue with the caller's reason."""
        entity, queue, message = self._locked(path, token)
        if queue is entity.dead_letter:
            raise LockLost("A message in the dead-letter queue cannot be dead-lettered again.")
        self._move_to_dead_letter(entity, message, reason, description)

    def renew_lock(self, path: str, token: uuid.UUID) -> float:
        """Extend a lock by the entity's lock duration; returns the new expiry."""
        entity, _, message = self._locked(path, token)
        message.locked_until = self.clock.now() + entity.settings.lock_duration
        return message.locked_until

    # ------------------------------------------------------------------ timers
    def next_deadline(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def tick(self) -> None:
        """Fire every timer that is due: lock expiry, scheduled enqueue, TTL expiry."""
        now = self.clock.now()
        while self._timers and self._timers[0][0] <= now:
            _, _, kind, path, seq = heapq.heappop(self._timers)
            entity, queue = self._queues[path]
            message = queue.get(seq)
            if message is None:
                continue
            if kind == _LOCK:
                self._lock_timer(entity, queue, message, now)
            elif kind == _SCHEDULE and message.state is MessageState.SCHEDULED:
                message.state = MessageState.ACTIVE
                self._set_expiry(entity, message, now)
                self.store.update(queue.path, message)
                self._return(entity, queue, message)
            elif kind == _EXPIRY and self._expired(message, now):
                self._expire(entity, message)

    @staticmethod
    def _expired(message: StoredMessage, now: float) -> bool:
        """Due to expire now (a locked message expires when its lock ends, not before)."""
        if message.expires_at is None or message.expires_at > now or message.locked:
            return False
        return message.state is not MessageState.SCHEDULED

    def _lock_timer(
        self, entity: _Entity, queue: MessageQueue, message: StoredMessage, now: float
    ) -> None:
        if message.locked_until is None:
            return
        if message.locked_until > now:  # renewed since this timer was set
            self._timer(message.locked_until, _LOCK, queue.path, message.sequence_number)
            return
        self._fail_delivery(entity, queue, message)

    def _timer(self, when: float, kind: str, path: str, seq: int) -> None:
        heapq.heappush(self._timers, (when, next(self._timer_ids), kind, path, seq))

    # --------------------------------------------------------------- internals
    def _fail_delivery(self, entity: _Entity, queue: MessageQueue, message: StoredMessage) -> None:
        queue.unlock(message)
        message.delivery_count += 1
        if queue is entity.active and message.delivery_count >= entity.settings.max_delivery_count:
            description = MAX_DELIVERY_COUNT_DESCRIPTION.format(message.delivery_count)
            self._move_to_dead_letter(entity, message, MAX_DELIVERY_COUNT_REASON, description)
            return
        self.store.update(queue.path, message)
        self._return(entity, queue, message)

    def _return(self, entity: _Entity, queue: MessageQueue, message: StoredMessage) -> None:
        """Put an unlocked message back where receivers find it (or expire it if its time is up)."""
        expires = message.expires_at
        if queue is entity.active and expires is not None and expires <= self.clock.now():
            self._expire(entity, message)
            return
        if message.state is MessageState.ACTIVE:
            queue.mark_ready(message)
            self.on_available(queue.path)

    def _expire(self, entity: _Entity, message: StoredMessage) -> None:
        if entity.settings.dead_lettering_on_expiration:
            self._move_to_dead_letter(entity, message, TTL_EXPIRED_REASON, TTL_EXPIRED_DESCRIPTION)
        else:
            self._delete(entity.active, message)

    def _move_to_dead_letter(
        self, entity: _Entity, message: StoredMessage, reason: str | None, description: str | None
    ) -> None:
        self._delete(entity.active, message)
        message.state = MessageState.ACTIVE
        message.dead_letter_reason = reason
        message.dead_letter_description = description
        entity.dead_letter.add(message)
        self.store.save(entity.dead_letter.path, message)
        self.on_available(entity.dead_letter.path)

    def _delete(self, queue: MessageQueue, message: StoredMessage) -> None:
        queue.remove(message)
        self.store.delete(queue.path, message.sequence_number)

    def _restore(self) -> None:
        saved = self.store.load()
        now = self.clock.now()
        for path, messages in saved.messages.items():
            if path not in self._queues:
                continue  # the queue was removed from the config; its rows stay on disk
            entity, queue = self._queues[path]
            for message in messages:
                queue.add(message)
                entity.last_sequence = max(entity.last_sequence, message.sequence_number)
                if (
                    message.state is MessageState.SCHEDULED
                    and message.scheduled_enqueue_time is not None
                ):
                    self._timer(
                        message.scheduled_enqueue_time, _SCHEDULE, path, message.sequence_number
                    )
                elif message.expires_at is not None and queue is entity.active:
                    self._timer(message.expires_at, _EXPIRY, path, message.sequence_number)
        for path, last in saved.last_sequence.items():
            if path in self._entities:
                entity = self._entities[path]
                entity.last_sequence = max(entity.last_sequence, last)
        for path, ids in saved.message_ids.items():
            if path in self._entities:
                for message_id, forget_after in sorted(ids, key=lambda pair: pair[1]):
                    if forget_after > now:
                        self._entities[path].seen_ids[message_id] = forget_after

    def commit(self) -> None:
        """Make every change so far durable (a no-op in memory)."""
        self.store.commit()
