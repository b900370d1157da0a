"""Service Bus queue triggers of the sample app against the real emulator and SDK."""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from localdev.servicebus.process import ServiceBusEmulatorProcess
from localdev.servicebus.process import connection_string as emulator_connection_string
from localdev.stack import StackError
from tests.fixtures.ports import free_port


def queue(name: str, lock: str, max_delivery: int = 10) -> dict:
    return {
        "Name": name,
        "Properties": {
            "DeadLetteringOnMessageExpiration": True,
            "DefaultMessageTimeToLive": "PT1H",
            "DuplicateDetectionHistoryTimeWindow": "PT1M",
            "LockDuration": lock,
            "MaxDeliveryCount": max_delivery,
            "RequiresDuplicateDetection": False,
            "RequiresSession": False,
        },
    }


@dataclass
class Emulator:
    connection_string: str

    def send(self, queue_name: str, *messages: ServiceBusMessage) -> None:
        with (
            ServiceBusClient.from_connection_string(self.connection_string) as client,
            client.get_queue_sender(queue_name) as sender,
        ):
            sender.send_messages(list(messages))

    def peek(self, queue_name: str) -> list:
        with (
            ServiceBusClient.from_connection_string(self.connection_string) as client,
            client.get_queue_receiver(queue_name) as receiver,
        ):
            return receiver.peek_messages(max_message_count=10)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    """The emulator with the sample app's queues: short locks keep the lock tests fast."""
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "UserConfig": {
                    "Namespaces": [
                        {
                            "Name": "sbemulatorns",
                            "Queues": [
                                queue("flaky", "PT5S"),
                                queue("slow", "PT2S"),
                                queue("count", "PT30S"),
                            ],
                            "Topics": [],
                        }
                    ],
                    "Logging": {"Type": "File"},
                }
            }
        )
    )
    part = ServiceBusEmulatorProcess(
        port=free_port(),
        data_dir=tmp_path / "sb",
        config_path=config,
        log_path=tmp_path / "servicebus.log",
    )
    try:
        part.start()
    except (StackError, RuntimeError, OSError) as exc:
        pytest.fail(f"Service Bus emulator did not start: {exc}", pytrace=False)
    yield Emulator(emulator_connection_string(part.port))
    part.stop()


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def invocations(host, function: str) -> list[dict]:
    return [
        line
        for line in host.log_lines()
        if line.get("message") == "invocation" and line.get("function") == function
    ]


def start_host(sample_host, emulator: Emulator, **kwargs):
    return sample_host({"ServiceBusConnection": emulator.connection_string}, **kwargs)


def send_failing_twice(emulator: Emulator, message_id: str) -> None:
    """A message the sample's flaky function fails on twice, then completes."""
    emulator.send(
        "flaky",
        ServiceBusMessage(b"x", message_id=message_id, application_properties={"fail_times": 2}),
    )


def test_success_completes_and_the_message_carries_the_worker_fields(sample_host, emulator):
    host = start_host(sample_host, emulator)
    emulator.send(
        "flaky",
        ServiceBusMessage(
            b'{"hello": 1}',
            message_id="m-ok",
            content_type="application/json",
            correlation_id="corr-1",
            subject="user.registered",
            application_properties={"tenant": "acme", "schema_version": 1},
        ),
    )
    (record,) = wait_for(lambda: host.records("flaky"))
    assert record["message_id"] == "m-ok"
    assert record["delivery_count"] == 1
    assert record["body"] == '{"hello": 1}'
    assert record["properties"] == {"tenant": "acme", "schema_version": 1}
    assert record["user_properties"] == record["properties"]
    assert (record["content_type"], record["correlation_id"]) == ("application/json", "corr-1")
    assert record["subject"] == record["label"] == "user.registered"
    assert record["lock_token"]
    assert record["locked_until"]
    assert record["enqueued_time_utc"]
    assert record["sequence_number"] >= 1
    assert record["metadata_message_id"] == "m-ok"
    (line,) = wait_for(lambda: invocations(host, "flaky"))
    assert (line["outcome"], line["settlement"]) == ("succeeded", "completed")
    assert emulator.peek("flaky") == []


def test_failure_abandons_and_the_broker_redelivers_with_count_plus_one(sample_host, emulator):
    host = start_host(sample_host, emulator)
    send_failing_twice(emulator, "m-fail")
    records = wait_for(lambda: len(host.records("flaky")) >= 3 and host.records("flaky"))
    assert [r["delivery_count"] for r in records] == [1, 2, 3]
    lines = wait_for(lambda: len(invocations(host, "flaky")) >= 3 and invocations(host, "flaky"))
    assert [(x["outcome"], x["settlement"]) for x in lines] == [
        ("failed", "abandoned"),
        ("failed", "abandoned"),
        ("succeeded", "completed"),
    ]
    assert emulator.peek("flaky") == []


def test_never_more_than_max_concurrent_calls_in_flight(sample_host, emulator):
    host = start_host(sample_host, emulator)  # sample host.json: maxConcurrentCalls 3
    emulator.send("count", *[ServiceBusMessage(b"0.4", message_id=f"c{i}") for i in range(9)])
    wait_for(
        lambda: len([r for r in host.records("concurrent") if r["event"] == "end"]) == 9, timeout=30
    )
    peaks = [r["in_flight"] for r in host.records("concurrent") if r["event"] == "start"]
    assert max(peaks) == 3


def test_lock_is_renewed_while_a_slow_function_runs(sample_host, emulator):
    host = start_host(sample_host, emulator)
    # Given a 2 s lock and a function that takes 5 s
    emulator.send("slow", ServiceBusMessage(b"5", message_id="m-slow"))
    wait_for(lambda: [r for r in host.records("slow") if r["event"] == "end"], timeout=20)
    time.sleep(3)  # longer than the lock: a lost lock would have redelivered by now
    # Then it ran once, completed, and was never redelivered
    assert [(r["event"], r["delivery_count"]) for r in host.records("slow")] == [
        ("start", 1),
        ("end", 1),
    ]
    (line,) = invocations(host, "slow")
    assert line["settlement"] == "completed"
    assert emulator.peek("slow") == []


def test_graceful_shutdown_finishes_in_flight_work(sample_host, emulator):
    host = start_host(sample_host, emulator, shutdown_timeout=15)
    emulator.send("slow", ServiceBusMessage(b"3", message_id="m-shutdown"))
    wait_for(lambda: host.records("slow"))
    # When the host gets SIGTERM mid-invocation
    assert host.process.stop() == 0
    # Then the invocation finished and its message was completed before exit
    assert [r["event"] for r in host.records("slow")] == ["start", "end"]
    (line,) = invocations(host, "slow")
    assert (line["outcome"], line["settlement"]) == ("succeeded", "completed")
    assert emulator.peek("slow") == []


def started_at(host, function: str) -> list[tuple[str, datetime]]:
    return [
        (line["message_id"], datetime.fromisoformat(line["ts"]))
        for line in host.log_lines()
        if line.get("message") == "invocation.started" and line.get("function") == function
    ]


def test_a_message_is_picked_up_and_settled_at_once(sample_host, emulator):
    host = start_host(sample_host, emulator)
    wait_for(
        lambda: any(
            line.get("message") == "servicebus.listening" and line.get("function") == "flaky"
            for line in host.log_lines()
        )
    )
    # Given an idle host, when messages arrive one at a time
    sent: dict[str, datetime] = {}
    with (
        ServiceBusClient.from_connection_string(emulator.connection_string) as client,
        client.get_queue_sender("flaky") as sender,
    ):
        for n in range(5):
            sent[f"m-quick-{n}"] = datetime.now(UTC)
            sender.send_messages(ServiceBusMessage(b"x", message_id=f"m-quick-{n}"))
            time.sleep(0.3)
    lines = wait_for(lambda: len(invocations(host, "flaky")) == 5 and invocations(host, "flaky"))
    # Then each starts at once and its settlement takes no extra poll turn (both were ~200 ms
    # when the host batched receives on one receiver it also settled on)
    pickup = [(ts - sent[mid]).total_seconds() for mid, ts in started_at(host, "flaky")]
    assert statistics.median(pickup) < 0.1, pickup
    assert [line["settlement"] for line in lines] == ["completed"] * 5
    assert statistics.median(line["duration_ms"] for line in lines) < 100, lines
    assert emulator.peek("flaky") == []


def test_an_abandoned_message_is_redelivered_at_once(sample_host, emulator):
    host = start_host(sample_host, emulator)
    send_failing_twice(emulator, "m-again")
    wait_for(lambda: len(invocations(host, "flaky")) == 3)
    starts = [ts for _, ts in started_at(host, "flaky")]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert max(gaps) < 0.25, gaps  # was 0.4 s: an abandon and a batch receive, ~0.2 s each
