"""Event Streams against the real SDKs: the emulator's queue and Azurite's failures table."""

from __future__ import annotations

import json
import uuid

import pytest

from events.service import EventStreamService, respond
from ingest.service import IngestRequest
from shared.clients import build_service_bus_client
from shared.publisher import ServiceBusPublisher
from shared.rejections import RejectionLog
from shared.settings import Settings
from tests.integration.pipeline.conftest import make_store
from tests.unit.events.conftest import TENANT, TOKEN, body, cloud_event, headers


@pytest.fixture
def route(servicebus_factory, tables_connection_string, table_name_factory):
    queue = f"reg{uuid.uuid4().hex[:8]}"
    emulator = servicebus_factory(queues={queue: {}})
    client = build_service_bus_client(Settings(ServiceBusConnection=emulator.connection_string))
    publisher = ServiceBusPublisher(client, queue)
    rejections = RejectionLog(
        make_store(tables_connection_string, table_name_factory("fail")), TENANT
    )
    service = EventStreamService([TOKEN], TENANT, publisher, rejections)
    yield (
        (lambda payload: respond(lambda: service, IngestRequest(payload, headers()))),
        client,
        queue,
        rejections,
    )
    publisher.close()
    client.close()


def test_creations_and_deletions_reach_the_queue_once_per_id(route) -> None:
    post, client, queue, _ = route
    answers = [
        post(body(cloud_event(kind))) for kind in ("user.created", "user.created", "user.deleted")
    ]
    assert [a.status for a in answers] == [202, 202, 202]

    with client.get_queue_receiver(queue, max_wait_time=2) as receiver:
        received = receiver.receive_messages(max_message_count=10, max_wait_time=2)
        for message in received:
            receiver.complete_message(message)
    # The repeated delivery had the same id: the broker's duplicate detection dropped it.
    assert sorted(str(m.subject) for m in received) == ["user.deleted", "user.registered"]
    assert {str(m.message_id) for m in received} == {answers[0].body["id"], answers[2].body["id"]}
    properties = {
        k.decode() if isinstance(k, bytes) else k for k in received[0].application_properties
    }
    assert {"tenant", "correlation_id", "received_at", "source"} <= properties


def test_a_large_unusable_delivery_is_kept_whole_in_azurite(route) -> None:
    post, _, _, rejections = route
    # ~120 KB of metadata and no created_at: chunked across columns, each under 64 KiB.
    delivery = cloud_event(created_at=None, user_metadata={"notes": "ü" * 60_000})
    payload = json.dumps(delivery, ensure_ascii=False).encode("utf-8")

    answer = post(payload)

    assert answer.status == 202
    (kept,) = rejections.iter_all()
    assert kept.rejection_id == answer.body["id"]
    assert kept.cause == "no data.object.created_at"
    assert kept.size == len(payload)
    assert json.loads(kept.body) == delivery
    assert kept.user_id == "auth0|679fb1b1e809445f129bc18d"
    assert rejections.erase_user(TENANT, kept.user_id) == 1
    assert list(rejections.iter_all()) == []
