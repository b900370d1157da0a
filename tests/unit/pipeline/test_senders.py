"""`shared.senders.SenderPool`: bounded, lazy, reused, one borrower each, broken ones replaced.

The pool holds objects with `close()`; here they are `RecordingSender`s (the
project's own stand-in, not an SDK mock). The real senders against the
emulator are in tests/integration/pipeline/test_publisher.py.
"""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from shared.errors import QueueUnavailable
from shared.senders import SenderPool


class RecordingSender:
    _numbers = itertools.count(1)

    def __init__(self) -> None:
        self.number = next(self._numbers)
        self.closed = False
        self.in_use = threading.Lock()

    def close(self) -> None:
        self.closed = True


def make_pool(max_size: int = 4, wait_timeout: float = 1.0):
    made: list[RecordingSender] = []

    def create() -> RecordingSender:
        made.append(RecordingSender())
        return made[-1]

    return SenderPool(create, max_size, wait_timeout), made


def test_one_caller_at_a_time_reuses_one_sender() -> None:
    pool, made = make_pool()
    for _ in range(5):
        with pool.lend() as sender:
            assert not sender.closed
    assert len(made) == 1
    assert (pool.size, pool.idle) == (1, 1)


def test_concurrent_callers_get_their_own_senders_up_to_the_bound() -> None:
    pool, made = make_pool(max_size=4, wait_timeout=5.0)
    overlap = threading.Barrier(4)
    errors: list[BaseException] = []

    def borrow_many() -> None:
        try:
            for round_ in range(20):
                with pool.lend() as sender:
                    # A second borrower of the same sender would find this lock taken.
                    assert sender.in_use.acquire(blocking=False), "sender lent twice at once"
                    if round_ == 0:
                        overlap.wait(timeout=5)  # all four hold a sender at the same time
                    time.sleep(0.001)
                    sender.in_use.release()
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=borrow_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(made) == 4  # lazily up to the bound, never more
    assert (pool.size, pool.idle) == (4, 4)


def test_an_exhausted_pool_waits_for_a_sender_to_come_back() -> None:
    pool, made = make_pool(max_size=1, wait_timeout=5.0)
    lent = threading.Event()
    handed_back = threading.Event()

    def hold_briefly() -> None:
        with pool.lend():
            lent.set()
            time.sleep(0.2)
        handed_back.set()

    holder = threading.Thread(target=hold_briefly)
    holder.start()
    lent.wait(timeout=5)
    with pool.lend() as sender:
        assert handed_back.is_set()
        assert sender is made[0]
    holder.join()


def test_an_exhausted_pool_gives_up_after_its_wait_timeout() -> None:
    pool, _ = make_pool(max_size=1, wait_timeout=0.1)
    with pool.lend():
        started = time.monotonic()
        with pytest.raises(QueueUnavailable, match="all 1 Service Bus senders busy"), pool.lend():
            pass
        assert 0.09 <= time.monotonic() - started < 1.0


def test_a_sender_whose_send_failed_is_closed_and_replaced() -> None:
    pool, made = make_pool(max_size=1)
    with pytest.raises(ConnectionResetError), pool.lend():
        raise ConnectionResetError("link lost")
    assert made[0].closed
    assert (pool.size, pool.idle) == (0, 0)
    with pool.lend() as sender:
        assert sender is made[1]
        assert not sender.closed


def test_a_failure_frees_the_slot_for_a_waiting_caller() -> None:
    pool, made = make_pool(max_size=1, wait_timeout=5.0)
    lent = threading.Event()

    def fail_after_a_while() -> None:
        try:
            with pool.lend():
                lent.set()
                time.sleep(0.1)
                raise TimeoutError("send timed out")
        except TimeoutError:
            pass

    failing = threading.Thread(target=fail_after_a_while)
    failing.start()
    lent.wait(timeout=5)
    with pool.lend() as sender:
        assert sender is made[1]  # a fresh one, not the broken one
    failing.join()


def test_close_closes_idle_senders_now_and_lent_ones_on_return() -> None:
    pool, made = make_pool(max_size=2)
    with pool.lend() as kept:
        with pool.lend():
            pass
        pool.close()
        assert made[1].closed
        assert not kept.closed  # still sending
    assert kept.closed
    assert pool.size == 0
    with pytest.raises(QueueUnavailable, match="closed"), pool.lend():
        pass


def test_close_wakes_waiting_callers() -> None:
    pool, _ = make_pool(max_size=1, wait_timeout=10.0)
    outcome: list[BaseException] = []

    def wait_for_a_sender() -> None:
        try:
            with pool.lend():
                pass
        except QueueUnavailable as exc:
            outcome.append(exc)

    with pool.lend():
        waiter = threading.Thread(target=wait_for_a_sender)
        waiter.start()
        time.sleep(0.05)
        pool.close()
        waiter.join(timeout=2)
        assert not waiter.is_alive()
    assert len(outcome) == 1
    assert "closed" in str(outcome[0])


def test_the_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SenderPool(RecordingSender, 0, 1.0)
