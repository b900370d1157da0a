"""`ServiceBusPublisher` and its sender pool against the real emulator with the real SDK."""

from __future__ import annotations

import gc
import threading
import uuid

import pytest
from azure.servicebus import ServiceBusClient

from shared.clients import build_service_bus_client
from shared.errors import QueueUnavailable
from shared.publisher import OutgoingMessage, ServiceBusPublisher
from shared.settings import Settings

THREADS = 16
PER_THREAD = 15


def outgoing(message_id: str) -> OutgoingMessage:
    return OutgoingMessage(
        body=f'{{"id": "{message_id}"}}',
        message_id=message_id,
        correlation_id=f"corr-{message_id}",
        application_properties={"schema_version": 1, "tenant": "acme-prod"},
    )


def receive_all(client: ServiceBusClient, queue: str, expected: int) -> list[str]:
    """Message ids in the queue (completing each): `expected` of them, then any extra."""
    ids: list[str] = []
    with client.get_queue_receiver(queue) as receiver:
        while len(ids) < expected:
            batch = receiver.receive_messages(max_message_count=100, max_wait_time=5)
            if not batch:
                break
            ids += [str(m.message_id) for m in batch]
            for message in batch:
                receiver.complete_message(message)
        ids += [str(m.message_id) for m in receiver.receive_messages(max_wait_time=0.3)]
    return ids


@pytest.fixture
def queue_client(servicebus_factory):
    """A fresh emulator with its own queue, and a client built as the app builds it."""
    queue = f"pub{uuid.uuid4().hex[:8]}"
    emulator = servicebus_factory(queues={queue: {}})
    client = build_service_bus_client(Settings(ServiceBusConnection=emulator.connection_string))
    yield emulator, client, queue
    client.close()


def test_concurrent_publishes_each_land_exactly_once(queue_client) -> None:
    _, client, queue = queue_client
    publisher = ServiceBusPublisher(client, queue, max_senders=8)
    sent = [[f"reg_{t:02d}_{n:03d}" for n in range(PER_THREAD)] for t in range(THREADS)]
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def publish_all(ids: list[str]) -> None:
        try:
            start.wait(timeout=10)
            for message_id in ids:
                publisher.publish(outgoing(message_id))
        except BaseException as exc:
            errors.append(exc)

    # When: 16 threads publish through one publisher that may open at most 8 senders
    threads = [threading.Thread(target=publish_all, args=(ids,)) for ids in sent]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # Then: every message is in the queue once, sent over more than one link but never over 8
    assert errors == []
    assert 1 < publisher.senders.size <= 8
    received = receive_all(client, queue, THREADS * PER_THREAD)
    assert sorted(received) == sorted(i for ids in sent for i in ids)
    publisher.close()
    assert publisher.senders.size == 0


# The SDK does not close its socket when the peer died under an open sender (see
# test_servicebus_durability.py); the socket is finalized, with a ResourceWarning, by the
# garbage collector. Collect here so the warning stays in this test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_sender_broken_by_an_emulator_restart_is_replaced(queue_client) -> None:
    emulator, client, queue = queue_client
    publisher = ServiceBusPublisher(client, queue, max_senders=2)
    publisher.publish(outgoing("reg_before"))
    assert publisher.senders.size == 1

    # Given: the broker goes away under the pooled sender's open connection
    emulator.kill()
    with pytest.raises(QueueUnavailable):
        publisher.publish(outgoing("reg_lost"))
    assert publisher.senders.size == 0  # the broken sender was closed and dropped

    # When: the broker is back (in memory: an empty queue) and the next request publishes
    emulator.start()
    publisher.publish(outgoing("reg_after"))

    # Then: it went over a fresh sender, and nothing else was left behind
    assert (publisher.senders.size, publisher.senders.idle) == (1, 1)
    assert receive_all(client, queue, 1) == ["reg_after"]
    publisher.close()
    gc.collect()


def test_publishing_after_close_is_queue_unavailable(queue_client) -> None:
    _, client, queue = queue_client
    publisher = ServiceBusPublisher(client, queue)
    publisher.publish(outgoing("reg_open"))
    publisher.close()
    with pytest.raises(QueueUnavailable, match="closed"):
        publisher.publish(outgoing("reg_closed"))
    assert receive_all(client, queue, 1) == ["reg_open"]
