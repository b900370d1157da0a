"""Replay and purge against the in-memory DLQ: selection, ordering, refusals, failures, locks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ops.audit.record import AuditTrail
from ops.deadletters.actions import (
    ActionContext,
    ReplayPolicy,
    plan_replay,
    purge,
    replay,
    select,
)
from ops.deadletters.model import REPLAY_COUNT, Selection
from ops.deadletters.settle import PassOptions
from tests.unit.ops.ops_fakes import (
    START,
    FakeClock,
    InMemoryAuditStore,
    InMemoryDeadLetterQueue,
    letter,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> InMemoryDeadLetterQueue:
    dlq = InMemoryDeadLetterQueue(clock)
    dlq.add(*(letter(n) for n in range(1, 11)))
    return dlq


@pytest.fixture
def audit_store() -> InMemoryAuditStore:
    return InMemoryAuditStore()


def context(
    queue: InMemoryDeadLetterQueue,
    audit_store: InMemoryAuditStore,
    clock: FakeClock,
    **options: Any,
) -> ActionContext:
    return ActionContext(
        queue,
        "registrations",
        AuditTrail(audit_store, "ana@laptop", clock.now),
        PassOptions(**options),
        clock.as_clock(),
    )


def test_replay_all_sends_each_message_before_completing_its_dlq_copy(queue, audit_store, clock):
    letters = select(queue, Selection(everything=True), START)
    report = replay(
        context(queue, audit_store, clock, chunk_size=4), letters, "all", ReplayPolicy()
    )

    assert report.complete
    assert report.counts == {"replayed": 10}
    assert queue.letters == {}
    assert [m.application_properties[REPLAY_COUNT] for m in queue.main_queue] == [1] * 10
    sent_at = {entry[1]: i for i, entry in enumerate(queue.log) if entry[0] == "send"}
    for i, entry in enumerate(queue.log):
        if entry[0] == "complete":
            replay_id = f"reg_{entry[1]:032d}:replay:1"
            assert sent_at[replay_id] < i, "a DLQ copy was completed before its replay was sent"


def test_only_selected_messages_are_replayed_and_the_rest_are_given_back(queue, audit_store, clock):
    letters = select(queue, Selection(sequence_numbers=frozenset({3, 8})), START)
    report = replay(context(queue, audit_store, clock), letters, "seq 3,8", ReplayPolicy())

    assert [o.sequence_number for o in report.outcomes] == [3, 8]
    assert sorted(queue.letters) == [1, 2, 4, 5, 6, 7, 9, 10]
    assert [m.application_properties["original_message_id"] for m in queue.main_queue] == [
        f"reg_{3:032d}",
        f"reg_{8:032d}",
    ]
    abandoned = {n for op, n in queue.log if op == "abandon"}
    assert abandoned == {1, 2, 4, 5, 6, 7}  # received on the way to 8, then released
    assert queue._locks == {}


def test_a_message_at_its_replay_budget_is_refused_and_stays(queue, audit_store, clock):
    queue.add(letter(11, properties={REPLAY_COUNT: 3}))
    letters = select(queue, Selection(sequence_numbers=frozenset({10, 11})), START)

    report = replay(context(queue, audit_store, clock), letters, "seq", ReplayPolicy(max_replays=3))

    assert report.counts == {"replayed": 1, "refused": 1}
    assert report.complete  # a refusal is a decision, not a failure
    assert 11 in queue.letters
    refused = next(o for o in report.outcomes if o.outcome == "refused")
    assert "max 3" in (refused.detail or "")
    assert "--force" in (refused.detail or "")


def test_force_replays_past_the_budget(queue, audit_store, clock):
    queue.add(letter(11, properties={REPLAY_COUNT: 5}))
    letters = select(queue, Selection(sequence_numbers=frozenset({11})), START)
    replay(context(queue, audit_store, clock), letters, "seq", ReplayPolicy(3, force=True))
    assert queue.main_queue[0].message_id == f"reg_{11:032d}:replay:6"


def test_dry_run_plans_without_touching_anything(queue, clock):
    queue.add(letter(11, properties={REPLAY_COUNT: 3}))
    letters = select(queue, Selection(everything=True), START)
    plan = plan_replay(letters, ReplayPolicy())
    assert {o.outcome for o in plan} == {"would-replay", "would-refuse"}
    assert plan[0].new_message_id == f"reg_{1:032d}:replay:1"
    assert all(op == "peek" for op, _ in queue.log)


def test_a_send_failure_midway_completes_only_what_was_sent(queue, audit_store, clock):
    queue.fail_send_after = 5
    letters = select(queue, Selection(everything=True), START)

    report = replay(
        context(queue, audit_store, clock, chunk_size=4), letters, "all", ReplayPolicy()
    )

    assert not report.complete
    assert report.counts == {"replayed": 5, "failed": 3, "not-attempted": 2}
    assert sorted(queue.letters) == [6, 7, 8, 9, 10]  # nothing lost
    assert len(queue.main_queue) == 5
    assert queue._locks == {}
    assert audit_store.saves[-1] == "incomplete"


def test_running_again_after_a_crash_between_send_and_complete_duplicates_nothing(
    queue, audit_store, clock
):
    # Given: a run that sent message 1 and died before completing its DLQ copy
    first = replay(
        context(queue, audit_store, clock),
        select(queue, Selection(sequence_numbers=frozenset({1})), START),
        "seq 1",
        ReplayPolicy(),
    )
    assert first.complete
    queue.add(letter(1))  # the DLQ copy is back, as if the complete never happened
    # When: the operator runs the replay again
    again = replay(
        context(queue, audit_store, clock),
        select(queue, Selection(everything=True), START),
        "all",
        ReplayPolicy(),
    )
    # Then: the same replay id is sent and the broker drops it as a duplicate
    assert again.complete
    ids = [m.message_id for m in queue.main_queue]
    assert len(ids) == len(set(ids)) == 10


def test_messages_locked_elsewhere_are_waited_for_then_reported(queue, audit_store, clock):
    queue.locked_elsewhere = {4}
    letters = select(queue, Selection(sequence_numbers=frozenset({4, 5})), START)

    report = replay(
        context(queue, audit_store, clock, lock_wait_seconds=10, receive_wait_seconds=2),
        letters,
        "seq",
        ReplayPolicy(),
    )

    assert {o.sequence_number: o.outcome for o in report.outcomes} == {4: "locked", 5: "replayed"}
    assert 4 in queue.letters
    assert not report.complete


def test_messages_that_left_the_dlq_are_reported_not_found(queue, audit_store, clock):
    letters = select(queue, Selection(sequence_numbers=frozenset({2})), START)
    del queue.letters[2]  # someone else settled it after the snapshot
    report = replay(context(queue, audit_store, clock), letters, "seq 2", ReplayPolicy())
    assert [o.outcome for o in report.outcomes] == ["not-found"]


def test_held_messages_have_their_locks_renewed_before_they_run_out(audit_store, clock):
    # Given: a paced replay that must receive 36 unselected messages (0.5 s each)
    # on the way to the last one, with a 10 s lock
    queue = InMemoryDeadLetterQueue(clock, lock_seconds=10, receive_cost_seconds=0.5)
    queue.add(*(letter(n) for n in range(1, 41)))
    wanted = select(queue, Selection(sequence_numbers=frozenset({1, 2, 3, 40})), START)
    options = {"chunk_size": 1, "rate_per_second": 0.5}

    report = replay(context(queue, audit_store, clock, **options), wanted, "seq", ReplayPolicy())

    assert report.complete
    assert sorted(queue.letters) == list(range(4, 40))
    assert any(op == "renew" for op, _ in queue.log)
    # every held message still had its lock at the end, so it was given back cleanly
    assert {n for op, n in queue.log if op == "abandon"} == set(range(4, 40))
    assert clock.slept
    assert clock.monotonic() >= 6.0


def test_purge_with_a_filter_touches_only_what_matches(queue, audit_store, clock):
    queue.add(
        letter(11, dead_letter_reason="SchemaViolation", enqueued_time=START - timedelta(days=9)),
        letter(12, dead_letter_reason="SchemaViolation", enqueued_time=START - timedelta(hours=2)),
    )
    selection = Selection(reason="schema", older_than=timedelta(days=7))
    letters = select(queue, selection, START)

    report = purge(context(queue, audit_store, clock), letters, selection.describe())

    assert [o.sequence_number for o in report.outcomes] == [11]
    assert sorted(queue.letters) == [*range(1, 11), 12]
    assert queue.main_queue == []


def test_every_replay_is_audited_with_its_messages(queue, audit_store, clock):
    letters = select(queue, Selection(everything=True), START)
    report = replay(
        context(queue, audit_store, clock, chunk_size=3), letters, "all", ReplayPolicy()
    )

    [entry] = audit_store.recent(5)
    assert entry.action_id == report.action_id
    assert entry.operator == "ana@laptop"
    assert entry.outcome == "succeeded"
    assert entry.counts == {"replayed": 10}
    assert entry.message_ids == [f"reg_{n:032d}" for n in range(1, 11)]
    assert audit_store.saves == ["running", "succeeded"]  # recorded before anything moved
