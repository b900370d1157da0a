"""Processes dying under load: the host SIGKILLed mid-batch, the emulator restarted, two hosts.

Clients behave like the Auth0 Action: a POST that gets no answer or a 503
is re-sent (re-signed) within a bounded budget. At the end, every
registration that got a 202 must be in the table exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from localdev.host.process import HostProcess
from tests.fixtures.ports import free_port
from tests.reliability.pipeline import Ledger, SignedClient, new_event, wait_for

# A short lock so messages held by a killed host come back in seconds, not a minute.
SHORT_LOCK = {"LockDuration": "PT5S"}


def invocations_started(stack) -> int:
    return sum(1 for line in stack.host_log_lines() if line.get("message") == "invocation.started")


def started_more(stack, count: int) -> Callable[[], bool]:
    """A condition: the host has started `count` more invocations than it has now."""
    target = invocations_started(stack) + count
    return lambda: invocations_started(stack) >= target


def post_in_background(ledger: Ledger, client: SignedClient, events: list[dict], concurrency: int):
    poster = threading.Thread(target=ledger.post_all, args=(client, events, concurrency))
    poster.start()
    return poster


def kill_host_mid_batch(stack, figures, registrations: int, kills: int) -> None:
    ledger = Ledger()
    client = SignedClient.for_stack(stack)
    poster = post_in_background(ledger, client, [new_event() for _ in range(registrations)], 8)
    for _ in range(kills):
        # Given the processor is busy (invocations in flight)
        wait_for(started_more(stack, 10), 60, "no processing")
        # When the host dies without any chance to finish or settle
        stack.host.kill()
        time.sleep(1.0)
        stack.start_host()
    poster.join()
    # Then every accepted registration is stored exactly once
    ledger.verify(stack, figures, timeout=120)
    assert ledger.statuses[202] == registrations, dict(ledger.statuses)


def test_host_sigkill_mid_batch_once(fault_stack, figures):
    kill_host_mid_batch(fault_stack(queue_properties=SHORT_LOCK), figures, 80, kills=1)


@pytest.mark.slow
def test_host_sigkill_mid_batch_repeatedly(fault_stack, figures):
    kill_host_mid_batch(fault_stack(queue_properties=SHORT_LOCK), figures, 600, kills=4)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["stop", "kill"])
def test_emulator_restarted_with_its_data_under_load(fault_stack, figures, how):
    stack = fault_stack(queue_properties=SHORT_LOCK)
    ledger = Ledger()
    client = SignedClient.for_stack(stack)
    poster = post_in_background(ledger, client, [new_event() for _ in range(400)], 8)
    for _ in range(2):
        wait_for(lambda: ledger.statuses[202] >= 50, 60, "no registration accepted")
        # When the broker goes away (graceful or SIGKILL) and comes back on the same data dir
        stack.emulator.stop() if how == "stop" else stack.emulator.kill()
        time.sleep(3.0)
        stack.start_emulator()
        time.sleep(3.0)
    poster.join()
    ledger.verify(stack, figures, timeout=180)
    assert ledger.statuses[202] == 400, dict(ledger.statuses)


@pytest.mark.slow
def test_two_hosts_compete_for_the_queue(fault_stack, figures, tmp_path):
    stack = fault_stack(queue_properties=SHORT_LOCK)
    second_log = tmp_path / "host2.log"
    second = HostProcess(
        port=free_port(),
        app=stack.config.app_path,
        settings=stack.config.settings_path,
        env_overrides=stack.endpoint_overrides(),
        log_path=second_log,
        shutdown_timeout=5.0,
    )
    second.start()
    try:
        ledger = Ledger()
        events = [new_event() for _ in range(600)]
        # When signups arrive through both hosts, which both consume the queue
        first = post_in_background(ledger, SignedClient.for_stack(stack), events[::2], 8)
        other = SignedClient.for_stack(stack, url=f"{second.url}/api/registrations")
        post_in_background(ledger, other, events[1::2], 8).join()
        first.join()
        ledger.verify(stack, figures, timeout=180)
        assert ledger.statuses[202] == len(events)
        # And both really processed some of them
        processed_by_second = second_log.read_text().count('"message": "invocation"')
        assert processed_by_second > 0
        assert invocations_started(stack) > 0
    finally:
        second.stop()
