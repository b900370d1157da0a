"""The request ceiling on a fake clock."""

from __future__ import annotations

import pytest

from reconciler.throttle import RequestCeiling


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_requests_are_spaced_by_the_ceiling():
    clock = FakeClock()
    ceiling = RequestCeiling(2.0, clock, clock.sleep)
    for _ in range(5):
        ceiling.acquire()
    assert clock.now == pytest.approx(102.0)  # 5 requests at 2/s: the 5th at t+2 s


def test_time_spent_elsewhere_counts_toward_the_next_slot():
    clock = FakeClock()
    ceiling = RequestCeiling(1.0, clock, clock.sleep)
    ceiling.acquire()
    clock.now += 0.7  # processing the page
    ceiling.acquire()
    assert clock.slept == [pytest.approx(0.3)]


def test_a_429_holds_every_request_until_the_reset():
    clock = FakeClock()
    ceiling = RequestCeiling(10.0, clock, clock.sleep)
    ceiling.acquire()
    ceiling.hold_until(clock.now + 5.0)
    ceiling.acquire()
    assert clock.now == pytest.approx(105.0)


def test_a_ceiling_must_be_positive():
    with pytest.raises(ValueError):
        RequestCeiling(0.0)
