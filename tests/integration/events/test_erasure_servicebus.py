"""Erasure against the real SDKs: Azurite tables and the Service Bus emulator's dead-letter queue.

Erasure removes the user's dead letters (and nothing else), and a replay
after the erasure brings nothing back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue

from processor.deletions import TombstoneAwareWriter
from processor.service import IncomingMessage, RegistrationProcessor
from shared.clients import build_service_bus_client
from shared.dead_letters import ServiceBusDeadLetterSweeper
from shared.erasure import Eraser
from shared.errors import QueueUnavailable
from shared.failures import FailureLog, ProcessingFailure
from shared.registrations import INDEX_PARTITIONS, MAIN_PARTITIONS, RegistrationReader
from shared.settings import Settings
from shared.tombstones import TombstoneStore
from tests.integration.pipeline.conftest import make_store
from tests.unit.erasure.memory import T0, TENANT, creation_body, deletion_body

ANA, BIA = "auth0|ana-erase", "google-oauth2|bia-keep"


@pytest.fixture
def erasure(servicebus_factory, tables_connection_string, table_name_factory):
    queue = f"reg{uuid.uuid4().hex[:8]}"
    emulator = servicebus_factory(queues={queue: {}})
    client = build_service_bus_client(Settings(ServiceBusConnection=emulator.connection_string))
    tables = {
        name: make_store(tables_connection_string, table_name_factory(name))
        for name in ("reg", "fail", "tomb")
    }
    tombstones = TombstoneStore(tables["tomb"])
    failures = FailureLog(tables["fail"])
    eraser = Eraser(tables["reg"], tombstones, failures, ServiceBusDeadLetterSweeper(client, queue))
    writer = TombstoneAwareWriter(tables["reg"], tombstones)
    processor = RegistrationProcessor(writer, failures)
    yield client, queue, eraser, processor, tables, failures, emulator.connection_string
    client.close()


def dead_letter(client: ServiceBusClient, queue: str, bodies: list[bytes]) -> None:
    with client.get_queue_sender(queue) as sender:
        sender.send_messages(
            [ServiceBusMessage(b, message_id=f"m{i}") for i, b in enumerate(bodies)]
        )
    with client.get_queue_receiver(queue, max_wait_time=2) as receiver:
        moved = 0
        while moved < len(bodies):
            for message in receiver.receive_messages(max_message_count=50, max_wait_time=2):
                receiver.dead_letter_message(message, reason="InvalidEvent", error_description="t")
                moved += 1


def dead_letter_bodies(client: ServiceBusClient, queue: str) -> list[bytes]:
    with client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as receiver:
        peeked = receiver.peek_messages(max_message_count=500, sequence_number=1)
    return [b"".join(message.body) for message in peeked]


def process_queue(client: ServiceBusClient, queue: str, processor: RegistrationProcessor) -> int:
    handled = 0
    with client.get_queue_receiver(queue, max_wait_time=2) as receiver:
        for message in receiver.receive_messages(max_message_count=50, max_wait_time=2):
            processor.process(IncomingMessage(b"".join(message.body), str(message.message_id), 1))
            receiver.complete_message(message)
            handled += 1
    return handled


def test_erasure_removes_the_users_dead_letters_and_a_replay_brings_nothing_back(
    erasure,
) -> None:
    client, queue, eraser, processor, tables, failures, _ = erasure
    # Given: Ana stored, two of her signups and one deletion dead-lettered among Bia's, and
    # more dead letters than one receive batch, so the sweep must hold locks across batches.
    processor.process(IncomingMessage(creation_body(ANA, T0), "stored", 1))
    anas = [creation_body(ANA, T0), creation_body(ANA, T0 - timedelta(days=1))]
    bias = [creation_body(BIA, T0 + timedelta(seconds=s)) for s in range(120)]
    dead_letter(client, queue, [*bias[:60], anas[0], *bias[60:], anas[1], deletion_body(ANA, T0)])
    failures.record(
        ProcessingFailure(
            message_id="m60", user_id=ANA, tenant_id=TENANT, delivery_count=10,
            error_type="InvalidEvent", error_message="x", permanent=True,
            correlation_id="c" * 32, failed_at=T0,
        )
    )  # fmt: skip

    # When: Ana is erased
    result = eraser.erase(TENANT, ANA, T0 + timedelta(hours=1))

    # Then: her entity, index entry, failure record and 3 dead letters are gone; Bia's stay
    assert result.counts() == {"entities": 1, "index_entries": 1, "failures": 1, "dead_letters": 3}
    assert sorted(dead_letter_bodies(client, queue)) == sorted(bias)
    assert list(tables["reg"].query(MAIN_PARTITIONS)) == []
    assert list(tables["reg"].query(INDEX_PARTITIONS)) == []
    assert failures.get("m60") is None

    # When: an operator replays copies of her old signups (an export, a stale replay)
    with client.get_queue_sender(queue) as sender:
        sender.send_messages([ServiceBusMessage(b) for b in [*anas, bias[0]]])
    assert process_queue(client, queue, processor) == 3

    # Then: nothing of Ana comes back; Bia's replay is stored
    reader = RegistrationReader(tables["reg"])
    assert reader.get(ANA) == []
    assert [r.user_id for r in reader.get(BIA)] == [BIA]

    # And: a second erasure (a redelivered user.deleted) finds nothing more to do
    again = eraser.erase(TENANT, ANA, T0 + timedelta(hours=1))
    assert again.counts() == {"entities": 0, "index_entries": 0, "failures": 0, "dead_letters": 0}


def test_a_genuine_resignup_after_the_erasure_is_stored(erasure) -> None:
    _, _, eraser, processor, tables, _, _ = erasure
    eraser.erase(TENANT, ANA, T0)

    processor.process(IncomingMessage(creation_body(ANA, T0 + timedelta(days=3)), "again", 1))

    (registration,) = RegistrationReader(tables["reg"]).get(ANA)
    assert registration.created_at == T0 + timedelta(days=3)


def test_a_sweep_that_runs_out_of_time_fails_rather_than_claiming_success(erasure) -> None:
    client, queue, *_ = erasure
    dead_letter(client, queue, [creation_body(ANA, T0)])
    sweeper = ServiceBusDeadLetterSweeper(client, queue, max_seconds=0.0)

    with pytest.raises(QueueUnavailable):
        sweeper.remove(lambda body: True)

    assert dead_letter_bodies(client, queue) == [creation_body(ANA, T0)]


def test_ops_dlq_replay_after_an_erasure_brings_nothing_back(
    erasure, tables_connection_string, tmp_path
) -> None:
    client, queue, eraser, processor, tables, _, servicebus_connection = erasure
    eraser.erase(TENANT, ANA, T0 + timedelta(hours=1))
    # Given: a copy of Ana's old signup that was still in the queue during the erasure and
    # dead-lettered afterwards (e.g. a table outage), next to one of Bia's.
    dead_letter(client, queue, [creation_body(ANA, T0), creation_body(BIA, T0)])
    settings = tmp_path / "ops.settings.json"
    settings.write_text(
        json.dumps(
            {
                "Values": {
                    "ServiceBusConnection": servicebus_connection,
                    "TablesConnection": tables_connection_string,
                    "REGISTRATIONS_QUEUE": queue,
                    "AUDIT_TABLE": f"audit{uuid.uuid4().hex[:8]}",
                    "FAILURES_TABLE": tables["fail"].table_name,
                }
            }
        )
    )

    # When: the operator replays the whole DLQ with the real CLI, and the processor runs
    command = ["-m", "ops", "--settings", str(settings), "dlq", "replay", "--all", "--yes"]
    replay = subprocess.run(
        [sys.executable, *command], capture_output=True, text=True, timeout=120, check=False
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert process_queue(client, queue, processor) == 2

    # Then: Bia is stored, Ana is not
    reader = RegistrationReader(tables["reg"])
    assert reader.get(ANA) == []
    assert [r.user_id for r in reader.get(BIA)] == [BIA]
    assert dead_letter_bodies(client, queue) == []
