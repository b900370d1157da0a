"""Ingest -> Service Bus emulator -> processor -> Azurite, with the real SDKs end to end.

`deliver_all` settles messages the way the Functions host does for the GA
binding (autoCompleteMessages): return -> complete, raise -> abandon.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from azure.functions.servicebus import ServiceBusMessage as FunctionMessage
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue
from pydantic import SecretStr

from ingest.service import IngestService
from processor.service import RegistrationProcessor
from shared.clients import build_service_bus_client
from shared.failures import FailureLog
from shared.publisher import ServiceBusPublisher
from shared.registrations import RegistrationReader
from shared.runtime import AppContext, set_context
from shared.settings import Settings
from shared.signing import SignatureVerifier
from shared.writes import RegistrationWriter
from tests.fixtures.ports import free_port
from tests.integration.pipeline.conftest import make_store
from tests.unit.pipeline.conftest import (
    BASE_EVENT,
    SECRET,
    body_of,
    http_request,
    user_function,
)

MAX_DELIVERIES = 3


@pytest.fixture
def pipeline(servicebus_factory, tables_connection_string, table_name_factory):
    """The real triggers wired to a fresh emulator queue and fresh Azurite tables."""
    queue = f"reg{uuid.uuid4().hex[:8]}"
    emulator = servicebus_factory(queues={queue: {"MaxDeliveryCount": MAX_DELIVERIES}})
    client = build_service_bus_client(Settings(ServiceBusConnection=emulator.connection_string))
    registrations = make_store(tables_connection_string, table_name_factory("reg"))
    failures = FailureLog(make_store(tables_connection_string, table_name_factory("fail")))
    publisher = ServiceBusPublisher(client, queue)
    context = AppContext(Settings(WEBHOOK_SECRET=SecretStr(SECRET)))
    context.publisher = publisher
    context.ingest_service = IngestService(SignatureVerifier([SECRET]), publisher)
    context.processor = RegistrationProcessor(RegistrationWriter(registrations), failures)
    set_context(context)
    yield client, queue, RegistrationReader(registrations), failures
    set_context(None)
    publisher.close()
    client.close()


def deliver_all(client: ServiceBusClient, queue: str, rounds: int = 20) -> int:
    """Receive until the queue is empty; settle like the host. Returns deliveries made."""
    trigger = user_function("process_registration")
    deliveries = 0
    with client.get_queue_receiver(queue, max_wait_time=1) as receiver:
        for _ in range(rounds):
            received = receiver.receive_messages(max_message_count=10, max_wait_time=1)
            if not received:
                return deliveries
            for message in received:
                deliveries += 1
                try:
                    trigger(to_function_message(message))
                except Exception:
                    receiver.abandon_message(message)
                else:
                    receiver.complete_message(message)
    return deliveries


def to_function_message(message) -> FunctionMessage:
    properties = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in (message.application_properties or {}).items()
    }
    return FunctionMessage(
        body=b"".join(message.body),
        message_id=message.message_id,
        delivery_count=message.delivery_count + 1,  # the SDK counts from 0, Functions from 1
        application_properties=properties,
        correlation_id=message.correlation_id,
        enqueued_time_utc=message.enqueued_time_utc,
        user_properties=properties,
    )


def test_registration_through_ingest_lands_once_in_the_table(pipeline) -> None:
    client, queue, reader, _ = pipeline
    post = user_function("ingest_registration")

    # Given: the Action delivers the same signup twice (its retry)
    first = post(http_request(body_of(BASE_EVENT), headers={"x-correlation-id": "corr-e2e-0001"}))
    second = post(http_request(body_of(BASE_EVENT)))
    assert first.status_code == second.status_code == 202

    # When: the processor drains the queue
    deliveries = deliver_all(client, queue)

    # Then: the broker dropped the duplicate, and the table holds one entity
    assert deliveries == 1
    [row] = reader.get(BASE_EVENT["user"]["user_id"])
    assert row.message_id == json.loads(first.get_body())["id"]
    assert row.correlation_id == "corr-e2e-0001"
    assert row.email == BASE_EVENT["user"]["email"]


def test_redelivered_message_adds_no_second_entity(pipeline) -> None:
    client, queue, reader, _ = pipeline
    user_function("ingest_registration")(http_request(body_of(BASE_EVENT)))
    # Given: the first delivery is abandoned after the write (a crash before completion)
    with client.get_queue_receiver(queue, max_wait_time=2) as receiver:
        [message] = receiver.receive_messages(max_message_count=1, max_wait_time=5)
        user_function("process_registration")(to_function_message(message))
        receiver.abandon_message(message)
    # When: it is delivered again
    assert deliver_all(client, queue) == 1
    # Then: still one entity, written by the first delivery
    [row] = reader.get(BASE_EVENT["user"]["user_id"])
    assert row.delivery_count == 1
    assert len(list(reader.iter_all())) == 1


def test_poison_message_reaches_the_dlq_with_its_cause_in_the_failure_log(pipeline) -> None:
    client, queue, reader, failures = pipeline
    with client.get_queue_sender(queue) as sender:
        sender.send_messages(
            ServiceBusMessage(
                json.dumps({**BASE_EVENT, "schema_version": 9}),
                message_id="reg_poison",
                application_properties={"correlation_id": "corr-poison-1"},
            )
        )

    assert deliver_all(client, queue) == MAX_DELIVERIES

    with client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dlq:
        [dead] = dlq.receive_messages(max_message_count=5, max_wait_time=5)
        assert dead.message_id == "reg_poison"
        assert dead.dead_letter_reason == "MaxDeliveryCountExceeded"
        dlq.complete_message(dead)
    failure = failures.get("reg_poison")
    assert failure is not None
    assert failure.permanent
    assert failure.error_type == "UnsupportedSchemaVersion"
    assert "newer than this service understands" in failure.error_message
    assert failure.delivery_count == MAX_DELIVERIES
    assert failure.correlation_id == "corr-poison-1"
    assert list(reader.iter_all()) == []


def test_unreachable_queue_is_503_within_the_budget() -> None:
    # Nothing listens on this port: every connection attempt is refused.
    dead = f"Endpoint=sb://localhost:{free_port()};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
    client = build_service_bus_client(Settings(ServiceBusConnection=dead))
    publisher = ServiceBusPublisher(client, "registrations")
    context = AppContext(Settings(WEBHOOK_SECRET=SecretStr(SECRET)))
    context.ingest_service = IngestService(SignatureVerifier([SECRET]), publisher)
    set_context(context)
    try:
        started = time.monotonic()
        response = user_function("ingest_registration")(http_request(body_of(BASE_EVENT)))
        elapsed = time.monotonic() - started
    finally:
        set_context(None)
        publisher.close()
        client.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert elapsed < 10
