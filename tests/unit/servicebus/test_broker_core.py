"""The broker core with a manual clock: locks, delivery counts, DLQ, TTL, schedule, duplicates."""

from __future__ import annotations

import uuid

import pytest

from localdev.servicebus.broker import (
    MAX_DELIVERY_COUNT_REASON,
    TTL_EXPIRED_REASON,
    Broker,
    EntityNotFound,
    IncomingMessage,
    LockLost,
    ManualClock,
    MemoryStore,
    MessageNotFound,
    MessageState,
    MessageTooLarge,
    QueueSettings,
    SqliteStore,
    StoredMessage,
)

DLQ = "q/$deadletterqueue"


def make(clock: ManualClock, store=None, **settings) -> Broker:
    return Broker([QueueSettings("q", **settings)], clock=clock, store=store or MemoryStore())


def msg(body: str, message_id: str | None = None, **kwargs) -> IncomingMessage:
    return IncomingMessage(payload=body.encode(), message_id=message_id, **kwargs)


def received(broker: Broker, path: str) -> StoredMessage:
    """The next message, which the test expects to be there."""
    message = broker.receive(path)
    assert message is not None
    return message


def lock(message: StoredMessage | None) -> uuid.UUID:
    """The lock token of a message the test holds locked."""
    assert message is not None
    assert message.lock_token is not None
    return message.lock_token


def elapse(clock: ManualClock, broker: Broker, seconds: float) -> None:
    """Let `seconds` pass and have the broker act on what fell due, as the wire layer does."""
    clock.advance(seconds)
    broker.tick()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_receive_locks_in_sequence_order_and_complete_removes(clock):
    broker = make(clock)
    assert broker.send("q", [msg("a"), msg("b")]) == [1, 2]
    first = received(broker, "q")
    second = received(broker, "q")
    assert (first.payload, second.payload) == (b"a", b"b")
    assert broker.receive("q") is None
    token = lock(first)  # settling clears the message's own token: keep the one the client holds
    broker.complete("q", token)
    assert [m.sequence_number for m in broker.peek("q", 1, 10)] == [2]
    with pytest.raises(LockLost):
        broker.complete("q", token)


def test_lock_expiry_redelivers_with_count_and_invalidates_token(clock):
    broker = make(clock, lock_duration=30)
    broker.send("q", [msg("a")])
    token = lock(broker.receive("q"))
    elapse(clock, broker, 29.9)
    assert broker.receive("q") is None
    elapse(clock, broker, 0.2)
    again = received(broker, "q")
    assert again.delivery_count == 1
    assert again.lock_token != token
    with pytest.raises(LockLost):
        broker.complete("q", token)


def test_renewed_lock_does_not_expire_at_the_old_time(clock):
    broker = make(clock, lock_duration=10)
    broker.send("q", [msg("a")])
    message = received(broker, "q")
    clock.advance(8)
    assert broker.renew_lock("q", lock(message)) == clock.now() + 10
    elapse(clock, broker, 8)
    broker.complete("q", lock(message))  # still held: 16 s after receipt


def test_max_delivery_count_dead_letters(clock):
    broker = make(clock, max_delivery_count=3)
    broker.send("q", [msg("poison")])
    for expected in range(3):
        message = received(broker, "q")
        assert message.delivery_count == expected
        broker.abandon("q", lock(message))
    assert broker.receive("q") is None
    (dead,) = broker.peek(DLQ, 1, 10)
    assert dead.dead_letter_reason == MAX_DELIVERY_COUNT_REASON
    assert dead.delivery_count == 3


def test_lock_expiries_count_towards_max_delivery(clock):
    broker = make(clock, max_delivery_count=2, lock_duration=5)
    broker.send("q", [msg("slow")])
    for _ in range(2):
        assert broker.receive("q") is not None
        elapse(clock, broker, 5)
    assert broker.receive("q") is None
    assert received(broker, DLQ).dead_letter_reason == MAX_DELIVERY_COUNT_REASON


def test_release_returns_without_counting(clock):
    broker = make(clock)
    broker.send("q", [msg("a")])
    message = received(broker, "q")
    broker.release("q", lock(message))
    assert received(broker, "q").delivery_count == 0


def test_dead_letter_keeps_reason_and_sequence_number(clock):
    broker = make(clock)
    broker.send("q", [msg("a")])
    message = received(broker, "q")
    broker.dead_letter("q", lock(message), "Bad", "very bad")
    dead = received(broker, DLQ)
    assert (dead.sequence_number, dead.dead_letter_reason, dead.dead_letter_description) == (
        1,
        "Bad",
        "very bad",
    )
    broker.complete(DLQ, lock(dead))
    assert broker.peek(DLQ, 1, 10) == []


def test_defer_hides_until_received_by_sequence_number(clock):
    broker = make(clock)
    broker.send("q", [msg("later")])
    message = received(broker, "q")
    broker.defer("q", lock(message))
    assert broker.receive("q") is None
    (deferred,) = broker.receive_deferred("q", [1])
    assert deferred.state is MessageState.DEFERRED
    broker.abandon("q", lock(deferred))  # stays deferred
    assert broker.receive("q") is None
    with pytest.raises(MessageNotFound):
        broker.receive_deferred("q", [99])
    (again,) = broker.receive_deferred("q", [1])
    broker.complete("q", lock(again))


def test_schedule_releases_at_its_time_and_cancel_drops(clock):
    broker = make(clock)
    at = clock.now() + 60
    kept, dropped = broker.send(
        "q", [msg("kept", scheduled_enqueue_time=at), msg("x", scheduled_enqueue_time=at)]
    )
    broker.cancel_scheduled("q", [dropped])
    assert [m.state for m in broker.peek("q", 1, 10)] == [MessageState.SCHEDULED]
    assert broker.receive("q") is None
    elapse(clock, broker, 59)
    assert broker.receive("q") is None
    elapse(clock, broker, 1)
    message = received(broker, "q")
    assert (message.sequence_number, message.enqueued_time) == (kept, at)
    with pytest.raises(MessageNotFound):
        broker.cancel_scheduled("q", [kept])


def test_ttl_expiry_dead_letters_or_drops(clock):
    for dead_letter in (True, False):
        broker = make(clock, default_ttl=100, dead_lettering_on_expiration=dead_letter)
        broker.send(
            "q",
            [
                msg("default ttl"),
                msg("short", time_to_live=10),
                msg("longer than default", time_to_live=500),
            ],
        )
        elapse(clock, broker, 10)
        assert [m.payload for m in broker.peek("q", 1, 10)] == [
            b"default ttl",
            b"longer than default",
        ]
        elapse(clock, broker, 90)
        assert broker.peek("q", 1, 10) == []
        dead = broker.peek(DLQ, 1, 10)
        if dead_letter:
            assert {m.dead_letter_reason for m in dead} == {TTL_EXPIRED_REASON}
            assert len(dead) == 3
        else:
            assert dead == []


def test_a_locked_message_expires_when_its_lock_ends(clock):
    broker = make(clock, default_ttl=10, lock_duration=30)
    broker.send("q", [msg("a")])
    message = received(broker, "q")
    elapse(clock, broker, 20)
    broker.complete("q", lock(message))  # past its TTL, but the lock still holds


def test_duplicates_dropped_inside_the_window_only(clock):
    broker = make(clock, duplicate_window=60)
    broker.send("q", [msg("a", "id"), msg("b", "id")])
    clock.advance(61)
    broker.send("q", [msg("c", "id")])
    assert [m.payload for m in broker.peek("q", 1, 10)] == [b"a", b"c"]


def test_duplicate_detection_off(clock):
    broker = make(clock, requires_duplicate_detection=False)
    broker.send("q", [msg("a", "id"), msg("b", "id")])
    assert len(broker.peek("q", 1, 10)) == 2


def test_errors(clock):
    broker = make(clock, max_message_size=10)
    with pytest.raises(EntityNotFound):
        broker.resolve("nope")
    assert broker.resolve("Q/$DeadLetterQueue") == DLQ
    with pytest.raises(MessageTooLarge):
        broker.send("q", [msg("x" * 11)])
    with pytest.raises(EntityNotFound):
        broker.send(DLQ, [msg("x")])
    with pytest.raises(LockLost):
        broker.complete("q", uuid.uuid4())


def test_sqlite_store_round_trip(clock, tmp_path):
    store = SqliteStore(tmp_path)
    broker = make(clock, store=store, max_delivery_count=5)
    broker.send(
        "q",
        [
            msg("a", "id-a"),
            msg("b", "id-b"),
            msg("c"),
            msg("later", scheduled_enqueue_time=clock.now() + 60),
        ],
    )
    a, b, c = (received(broker, "q") for _ in range(3))
    broker.abandon("q", lock(a))
    broker.dead_letter("q", lock(b), "Why", "because")
    broker.complete("q", lock(c))
    broker.commit()
    store.close()

    reopened = make(clock, store=SqliteStore(tmp_path), max_delivery_count=5)
    assert [(m.payload, m.delivery_count) for m in reopened.peek("q", 1, 10)] == [
        (b"a", 1),
        (b"later", 0),
    ]
    (dead,) = reopened.peek(DLQ, 1, 10)
    assert (dead.payload, dead.dead_letter_reason, dead.dead_letter_description) == (
        b"b",
        "Why",
        "because",
    )
    assert reopened.send("q", [msg("dup", "id-a"), msg("new")]) == [5, 6]
    assert [m.payload for m in reopened.peek("q", 1, 10)] == [b"a", b"later", b"new"]
    elapse(clock, reopened, 60)
    assert [
        m.payload
        for m in (received(reopened, "q"), received(reopened, "q"), received(reopened, "q"))
    ] == [
        b"a",
        b"later",
        b"new",
    ]
