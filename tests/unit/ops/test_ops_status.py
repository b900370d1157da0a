"""`ops status`: counts, the oldest dead letter's age, rates, and an unreachable endpoint."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from ops.cli import app as cli
from ops.errors import ServiceUnreachable
from ops.status.sample import QueueCounts, Sample, rates, take_sample
from tests.unit.ops.ops_fakes import START, FakeClock, InMemoryDeadLetterQueue, letter
from tests.unit.ops.test_ops_cli import FakeWiring, run


class CountsInMemory:
    """A QueueCounter handing out prepared counts, then stopping a watch with Ctrl-C."""

    def __init__(self, *counts: QueueCounts) -> None:
        self.pending = list(counts)

    def counts(self, queue_name: str) -> QueueCounts:
        if not self.pending:
            raise KeyboardInterrupt
        return self.pending.pop(0)


class Unreachable:
    def counts(self, queue_name: str) -> QueueCounts:
        raise ServiceUnreachable(
            "the Service Bus administration endpoint is unreachable (https://localhost:1)"
        )


def wiring_with(counter: Any) -> Any:
    def make(*args: Any, **kwargs: Any) -> FakeWiring:
        made = FakeWiring(*args, **kwargs)
        made.queue_counter = counter  # type: ignore[attr-defined]
        return made

    return make


def test_a_sample_has_the_counts_and_the_oldest_dead_letters_age() -> None:
    queue = InMemoryDeadLetterQueue(FakeClock())
    queue.add(letter(5, enqueued_time=START - timedelta(minutes=90)), letter(9))
    sample = take_sample(CountsInMemory(QueueCounts(7, 1, 2)), queue, "q", lambda: START)
    assert sample.row() | {"sampled_at": None} == {
        "queue": "q",
        "sampled_at": None,
        "active_messages": 7,
        "scheduled_messages": 1,
        "dead_letter_messages": 2,
        "oldest_dead_letter_age_seconds": 5400.0,
    }
    empty = take_sample(CountsInMemory(QueueCounts(0, 0, 0)), queue, "q", lambda: START)
    assert empty.oldest_dead_letter_age_seconds is None  # no peek when the broker says none


def test_rates_are_per_second_between_samples() -> None:
    before = Sample("q", START, QueueCounts(100, 0, 1), None)
    after = Sample("q", START + timedelta(seconds=4), QueueCounts(60, 0, 3), 1.0)
    assert rates(before, after) == {"drain_per_second": 10.0, "dead_letter_growth_per_second": 0.5}
    assert rates(after, after)["drain_per_second"] is None


def test_status_json_is_one_object_with_integer_counts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "Wiring", wiring_with(CountsInMemory(QueueCounts(4, 0, 3))))
    code, out, err = run(capsys, "status", "--json")
    assert code == 0, err
    [row] = [json.loads(line) for line in out.splitlines()]
    for key in ("active_messages", "scheduled_messages", "dead_letter_messages"):
        assert isinstance(row[key], int)
    assert row["dead_letter_messages"] == 3
    assert row["oldest_dead_letter_age_seconds"] > 0


def test_watch_prints_one_object_per_sample_with_rates_until_ctrl_c(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = CountsInMemory(QueueCounts(10, 0, 0), QueueCounts(5, 0, 0))
    monkeypatch.setattr(cli, "Wiring", wiring_with(counter))
    code, out, err = run(capsys, "status", "--watch", "--interval", "0.5", "--json")
    assert code == 0, err
    first, second = [json.loads(line) for line in out.splitlines()]
    assert first["drain_per_second"] is None
    assert 5 < second["drain_per_second"] <= 10  # 5 messages in a bit over 0.5 s
    assert second["dead_letter_growth_per_second"] == 0


def test_an_unreachable_admin_endpoint_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "Wiring", wiring_with(Unreachable()))
    code, out, err = run(capsys, "status")
    assert code == 1
    assert out == ""
    assert err == (
        "error: the Service Bus administration endpoint is unreachable (https://localhost:1)\n"
    )


def test_the_human_view_names_each_count(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "Wiring", wiring_with(CountsInMemory(QueueCounts(4, 0, 3))))
    code, out, err = run(capsys, "status")
    assert code == 0, err
    for label in ("active", "scheduled", "dead-lettered", "oldest dead letter"):
        assert label in out
