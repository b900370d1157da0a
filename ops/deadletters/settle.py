"""One peek-lock pass over the dead-letter queue that settles exactly the selected messages.

Service Bus cannot lock a chosen (non-deferred) message by sequence number,
so the pass receives in order and:

- hands each selected message to the action (replay or purge) at once;
- keeps every other message it happens to receive locked (renewing the lock
  before it runs out) until the pass ends, then abandons it: it is neither
  re-received in the same pass nor changed, apart from the broker's delivery
  count;
- stops as soon as every selected message was handled, or when the
  remaining ones have left the DLQ, or when they stayed locked by another
  receiver (e.g. a killed earlier run) longer than `lock_wait_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from ops.deadletters.model import DeadLetter
from ops.deadletters.queue import DeadLetterQueue, LockedLetter
from ops.deadletters.read import iter_dead_letters
from ops.errors import OpsError


@dataclass(frozen=True)
class MessageOutcome:
    """What happened to one selected dead letter."""

    sequence_number: int
    message_id: str | None
    outcome: str
    detail: str | None = None
    new_message_id: str | None = None

    # The --json keys in their order; the human table shows the same columns.
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "sequence_number",
        "message_id",
        "outcome",
        "new_message_id",
        "detail",
    )

    def row(self) -> dict[str, object]:
        """The per-message --json row."""
        return {name: getattr(self, name) for name in self.COLUMNS}


@dataclass
class ChunkResult:
    """What the action did with one chunk: outcomes, letters to give back, whether to stop."""

    outcomes: list[MessageOutcome] = field(default_factory=list)
    give_back: list[LockedLetter] = field(default_factory=list)
    stop: bool = False


ChunkHandler = Callable[[list[LockedLetter]], ChunkResult]


@dataclass(frozen=True)
class PassOptions:
    """Knobs of a settle pass; the defaults suit the queue's one-minute lock."""

    chunk_size: int = 100
    receive_wait_seconds: float = 2.0
    lock_wait_seconds: float = 75.0
    rate_per_second: float | None = None


@dataclass
class Clock:
    """Time as the pass sees it; unit tests pass a fake one."""

    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


class SettlePass:
    """Receives from the DLQ and hands the selected messages, chunk by chunk, to an action."""

    def __init__(self, queue: DeadLetterQueue, options: PassOptions, clock: Clock) -> None:
        self.queue = queue
        self.options = options
        self.clock = clock
        self.held: list[LockedLetter] = []

    def run(self, wanted: Mapping[int, DeadLetter], handle: ChunkHandler) -> list[MessageOutcome]:
        """Handle every wanted letter that can be locked; return outcomes of all of them."""
        self._remaining = dict(wanted)
        self._outcomes: list[MessageOutcome] = []
        self._started = self.clock.monotonic()
        self._handled = 0
        self._idle_since: float | None = None
        try:
            while self._remaining:
                self._step(handle)
        finally:
            self._give_back_held()
        return self._outcomes

    def _step(self, handle: ChunkHandler) -> None:
        self._renew_expiring()
        self._pace()
        count = min(self.options.chunk_size, len(self._remaining))
        received = self.queue.receive(count, self.options.receive_wait_seconds)
        if not received:
            self._on_idle()
            return
        self._idle_since = None
        chosen = [m for m in received if m.letter.sequence_number in self._remaining]
        self.held += [m for m in received if m.letter.sequence_number not in self._remaining]
        for locked in chosen:
            del self._remaining[locked.letter.sequence_number]
        if not chosen:
            return
        result = handle(chosen)
        self._handled += len(chosen)
        self._outcomes += result.outcomes
        self.held += result.give_back
        if result.stop:
            self._give_up("not-attempted", "stopped after a failure")

    def _on_idle(self) -> None:
        """Nothing could be locked: drop what left the DLQ, wait a while for what is locked."""
        now = self.clock.monotonic()
        self._idle_since = self._idle_since if self._idle_since is not None else now
        self._drop_gone()
        if self._remaining and now - self._idle_since > self.options.lock_wait_seconds:
            self._give_up("locked", LOCKED_DETAIL)

    def _give_up(self, outcome: str, detail: str) -> None:
        self._outcomes += _all_as(self._remaining, outcome, detail)
        self._remaining.clear()

    def _pace(self) -> None:
        rate = self.options.rate_per_second
        if rate is None or self._handled == 0:
            return
        due = self._started + self._handled / rate
        delay = due - self.clock.monotonic()
        if delay > 0:
            self.clock.sleep(delay)

    def _renew_expiring(self) -> None:
        now = self.clock.now()
        kept: list[LockedLetter] = []
        for locked in self.held:
            if _needs_renewal(locked, now):
                try:
                    self.queue.renew(locked)
                except OpsError:
                    continue  # the lock is gone, so the message is back in the DLQ already
            kept.append(locked)
        self.held = kept

    def _drop_gone(self) -> None:
        present = present_sequence_numbers(self.queue, set(self._remaining))
        gone = {n: letter for n, letter in self._remaining.items() if n not in present}
        for number in gone:
            del self._remaining[number]
        self._outcomes += _all_as(gone, "not-found", "no longer in the dead-letter queue")

    def _give_back_held(self) -> None:
        for locked in self.held:
            # On failure its lock expires on its own and the broker makes it available again.
            with suppress(OpsError):
                self.queue.abandon(locked)
        self.held = []


LOCKED_DETAIL = "locked by another receiver (an earlier run?); run the command again later"


def _needs_renewal(locked: LockedLetter, now: datetime) -> bool:
    if locked.locked_until is None:
        return False
    span = (
        locked.locked_until - locked.received_at
        if locked.received_at is not None
        else timedelta(seconds=30)
    )
    return locked.locked_until - now < span / 2


def present_sequence_numbers(queue: DeadLetterQueue, wanted: set[int]) -> set[int]:
    """Which of these sequence numbers are still in the DLQ (by peeking, locked or not)."""
    if not wanted:
        return set()
    highest = max(wanted)
    present: set[int] = set()
    for letter in iter_dead_letters(queue, start=min(wanted)):
        if letter.sequence_number > highest:
            break
        if letter.sequence_number in wanted:
            present.add(letter.sequence_number)
    return present


def _all_as(letters: Mapping[int, DeadLetter], outcome: str, detail: str) -> list[MessageOutcome]:
    return [
        MessageOutcome(number, letter.message_id, outcome, detail)
        for number, letter in sorted(letters.items())
    ]
