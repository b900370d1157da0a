"""One processor instance SIGKILLed mid-message while the others carry on (per-group instances).

The host runs each function group in its own processes, as Flex Consumption
does. Killing one instance of the processor group while it holds messages
must lose nothing (its locks expire, the broker redelivers to a live
instance) and duplicate nothing (the processor's writes are idempotent),
and the supervisor must bring the instance back.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from tests.fixtures.host_log import instance_pids
from tests.reliability.pipeline import Ledger, SignedClient, new_event, wait_for
from tests.reliability.test_process_faults import SHORT_LOCK, post_in_background

GROUP = "function:process_registration"
INSTANCES = "http=2,process_registration=2"


def has_new_pid(stack, label: str, old_pid: int) -> Callable[[], bool]:
    """A condition: instance `label` runs under another pid than `old_pid`."""
    return lambda: instance_pids(stack.host_log_lines())[label] != old_pid


def busy_processor(stack) -> str | None:
    """A processor instance with a message in flight right now (started, not finished)."""
    open_messages: dict[str, set[str]] = {}
    for line in stack.host_log_lines():
        label, message_id = line.get("instance", ""), line.get("message_id")
        if not label.startswith(GROUP) or message_id is None:
            continue
        if line.get("message") == "invocation.started":
            open_messages.setdefault(label, set()).add(message_id)
        elif line.get("message") == "invocation":
            open_messages.get(label, set()).discard(message_id)
    return next((label for label, ids in open_messages.items() if ids), None)


def wait_busy_processor(stack, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while (label := busy_processor(stack)) is None:
        assert time.monotonic() < deadline, "no processor instance mid-message"
        time.sleep(0.05)
    return label


def kill_processor_instances_mid_message(stack, figures, registrations: int, kills: int):
    ledger = Ledger()
    client = SignedClient.for_stack(stack)
    poster = post_in_background(ledger, client, [new_event() for _ in range(registrations)], 8)
    for _ in range(kills):
        # Given a processor instance in the middle of a message
        label = wait_busy_processor(stack, timeout=60)
        pid = instance_pids(stack.host_log_lines())[label]
        # When it dies without any chance to finish or settle
        os.kill(pid, signal.SIGKILL)
        # Then the supervisor starts it again
        wait_for(has_new_pid(stack, label, pid), 30, "no restart")
        time.sleep(1.0)
    poster.join()
    # And every accepted registration is stored exactly once
    ledger.verify(stack, figures, timeout=120)
    assert ledger.statuses[202] == registrations, dict(ledger.statuses)
    restarts = [
        line for line in stack.host_log_lines() if line.get("message") == "host.instance_exited"
    ]
    assert len(restarts) == kills
    assert all(r["instance"].startswith(GROUP) and r["exit_code"] == -9 for r in restarts)


def test_a_processor_instance_killed_mid_message_once(fault_stack, figures):
    stack = fault_stack(queue_properties=SHORT_LOCK, instances=INSTANCES)
    kill_processor_instances_mid_message(stack, figures, 80, kills=1)


@pytest.mark.slow
def test_processor_instances_killed_mid_message_repeatedly(fault_stack, figures):
    stack = fault_stack(queue_properties=SHORT_LOCK, instances=INSTANCES)
    kill_processor_instances_mid_message(stack, figures, 400, kills=3)
