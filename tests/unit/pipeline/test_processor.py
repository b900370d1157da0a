"""Processing rules, through the real Service Bus trigger with `func.ServiceBusMessage`."""

from __future__ import annotations

import json

import pytest

from processor.service import IncomingMessage, RegistrationProcessor
from shared.errors import StorageUnavailable, UnsupportedSchemaVersion
from shared.events import canonical_json
from shared.failures import FailureLog
from shared.ids import registration_id
from shared.retries import PROCESSOR_TABLE_RETRY
from shared.tablestore import InMemoryTableStore
from shared.writes import RegistrationWriter
from tests.unit.pipeline.conftest import (
    BASE_EVENT,
    FAST_RETRY,
    SAMPLES,
    FailingFirst,
    PipelineHarness,
    TableDownAtFirst,
    body_of,
    event,
    http_request,
    service_bus_message,
)

USER = BASE_EVENT["user"]["user_id"]


class FlakyTable(FailingFirst):
    """An in-memory table whose next `failures` reads and inserts answer 503 (service busy)."""

    reason = "table service answered 503 Server Busy"

    def insert(self, entity):
        self._guard()
        return super().insert(entity)

    def get(self, partition_key, row_key):
        self._guard()
        return super().get(partition_key, row_key)


def use_table(harness: PipelineHarness, table: InMemoryTableStore) -> None:
    from shared.registrations import RegistrationReader
    from shared.writes import RegistrationWriter

    harness.table = table
    harness.reader = RegistrationReader(table)
    harness.processor._writer = RegistrationWriter(table)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_ingested_event_lands_in_the_table(harness: PipelineHarness, name: str) -> None:
    document = SAMPLES[name]
    harness.post(http_request(body_of(document)))
    harness.deliver_published()

    [row] = harness.reader.get(document["user"]["user_id"], "acme-prod")
    message = harness.publisher.messages[0]
    expected_id = registration_id("acme-prod", row.user_id, row.created_at)
    assert row.message_id == message.message_id == expected_id
    assert row.correlation_id == message.correlation_id
    assert row.email == document["user"].get("email")
    assert row.phone_number == document["user"].get("phone_number")
    received_at = message.application_properties["received_at"]
    assert isinstance(received_at, str)
    assert row.received_at.isoformat().startswith(received_at[:19])
    assert row.schema_version == 1
    assert row.delivery_count == 1
    assert len(row.payload_hash) == 64


def test_redelivery_leaves_exactly_one_entity(harness: PipelineHarness) -> None:
    harness.post(http_request(body_of(BASE_EVENT)))
    for count in (1, 2, 3):
        harness.deliver_published(delivery_count=count)
    assert len(harness.reader.get(USER)) == 1
    assert len(list(harness.reader.iter_all())) == 1
    assert len(list(harness.reader.list())) == 1


def test_older_event_never_overwrites_newer(harness: PipelineHarness) -> None:
    newer = event(email="new@example.com")
    older = event(email="old@example.com")
    props = {"correlation_id": "c-new-000001", "received_at": "2026-11-26T03:20:00.000000Z"}
    harness.deliver(service_bus_message(body_of(newer), application_properties=props))
    props = {"correlation_id": "c-old-000001", "received_at": "2026-11-26T03:13:00.000000Z"}
    harness.deliver(service_bus_message(body_of(older), application_properties=props))

    [row] = harness.reader.get(USER, "acme-prod")
    assert row.email == "new@example.com"
    assert row.correlation_id == "c-new-000001"


def test_newer_event_replaces_older(harness: PipelineHarness) -> None:
    props = {"received_at": "2026-11-26T03:13:00.000000Z"}
    harness.deliver(
        service_bus_message(body_of(event(email="old@example.com")), application_properties=props)
    )
    props = {"received_at": "2026-11-26T03:20:00.000000Z"}
    harness.deliver(
        service_bus_message(body_of(event(email="new@example.com")), application_properties=props)
    )
    [row] = harness.reader.get(USER)
    assert row.email == "new@example.com"


def test_changed_created_at_moves_the_index_entry(harness: PipelineHarness) -> None:
    first = event(created_at="2026-11-26T03:12:45Z")
    second = event(created_at="2026-11-27T09:00:00Z")
    harness.deliver(service_bus_message(body_of(first)))
    harness.deliver(service_bus_message(body_of(second)))
    listed = list(harness.reader.list())
    assert [r.created_at.isoformat() for r in listed] == ["2026-11-27T09:00:00+00:00"]


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (b"{not json", "InvalidEvent"),
        (b"\xff\xfe", "InvalidEvent"),
        (body_of({**BASE_EVENT, "type": "user.deleted"}), "InvalidEvent"),
        (body_of({**BASE_EVENT, "schema_version": 7}), "UnsupportedSchemaVersion"),
    ],
)
def test_permanent_error_is_recorded_and_raised_without_retry(harness, body, error_type) -> None:
    with pytest.raises(Exception) as raised:
        harness.deliver(service_bus_message(body, message_id="reg_poison", delivery_count=3))

    assert type(raised.value).__name__ == error_type
    assert harness.sleeps == []  # no in-process retry
    failure = harness.failures.get("reg_poison")
    assert failure is not None
    assert failure.permanent
    assert failure.error_type == error_type
    assert failure.delivery_count == 3
    assert list(harness.reader.iter_all()) == []


def test_permanent_failure_record_carries_the_ids_but_no_personal_data(harness) -> None:
    document = {**event(email="ana.silva@example.com"), "schema_version": 99}
    with pytest.raises(UnsupportedSchemaVersion):
        harness.deliver(service_bus_message(body_of(document), message_id="reg_v99"))
    failure = harness.failures.get("reg_v99")
    assert "newer than this service understands" in failure.error_message
    assert "ana.silva" not in failure.model_dump_json()


def test_schema_violation_failure_names_the_field(harness: PipelineHarness) -> None:
    with pytest.raises(Exception):
        harness.deliver(service_bus_message(body_of(event(created_at="soon")), message_id="m1"))
    failure = harness.failures.get("m1")
    assert failure is not None
    assert "user.created_at" in failure.error_message


def test_transient_error_is_retried_within_the_delivery(harness: PipelineHarness) -> None:
    use_table(harness, FlakyTable(failures=2))
    harness.deliver(service_bus_message(body_of(BASE_EVENT)))
    assert len(harness.reader.get(USER)) == 1
    assert len(harness.sleeps) == 2


def test_transient_error_past_the_budget_raises_and_records_last_error(harness) -> None:
    table = FlakyTable(failures=1000)
    use_table(harness, table)
    with pytest.raises(StorageUnavailable):
        harness.deliver(
            service_bus_message(body_of(BASE_EVENT), message_id="reg_busy", delivery_count=2)
        )
    assert table.attempts == 4  # FAST_RETRY.max_attempts, one failing call each
    failure = harness.failures.get("reg_busy")
    assert not failure.permanent
    assert failure.error_type == "StorageUnavailable"
    assert "503" in failure.error_message


def test_success_after_failures_clears_the_failure_record(harness: PipelineHarness) -> None:
    use_table(harness, FlakyTable(failures=1000))
    with pytest.raises(StorageUnavailable):
        harness.deliver(service_bus_message(body_of(BASE_EVENT), message_id="m2", delivery_count=1))
    use_table(harness, InMemoryTableStore())
    harness.deliver(service_bus_message(body_of(BASE_EVENT), message_id="m2", delivery_count=2))
    assert harness.failures.get("m2") is None


def test_table_set_up_failing_at_first_use_is_retried_by_the_one_policy(harness) -> None:
    # Given: the table service is down when the processor first needs its table
    table = TableDownAtFirst(failures=PROCESSOR_TABLE_RETRY.max_attempts - 1)
    use_table(harness, table)
    harness.processor._policy = PROCESSOR_TABLE_RETRY

    # When: one delivery arrives
    harness.deliver(service_bus_message(body_of(BASE_EVENT), message_id="reg_first"))

    # Then: the set-up was retried inside the delivery with the policy's backoff, and it landed
    assert table.attempts == PROCESSOR_TABLE_RETRY.max_attempts
    assert table.creations == 1
    assert len(harness.sleeps) == PROCESSOR_TABLE_RETRY.max_attempts - 1
    for attempt, slept in enumerate(harness.sleeps, start=1):
        assert slept <= PROCESSOR_TABLE_RETRY.compute_backoff(attempt)
    assert len(harness.reader.get(USER)) == 1
    assert harness.failures.get("reg_first") is None

    # A later delivery does not create the table again
    harness.deliver(service_bus_message(body_of(BASE_EVENT), message_id="reg_first"))
    assert table.attempts == PROCESSOR_TABLE_RETRY.max_attempts


def test_table_set_up_down_past_the_budget_raises_and_records_the_cause(harness) -> None:
    table = TableDownAtFirst(failures=1000)
    use_table(harness, table)
    with pytest.raises(StorageUnavailable, match="Connection refused"):
        harness.deliver(service_bus_message(body_of(BASE_EVENT), message_id="reg_down"))
    assert table.attempts == FAST_RETRY.max_attempts
    failure = harness.failures.get("reg_down")
    assert failure.error_type == "StorageUnavailable"
    assert "Connection refused" in failure.error_message
    assert not failure.permanent

    # The next delivery, after the outage, sets the table up and writes
    table.failures = 0
    harness.deliver(
        service_bus_message(body_of(BASE_EVENT), message_id="reg_down", delivery_count=2)
    )
    assert len(harness.reader.get(USER)) == 1
    assert harness.failures.get("reg_down") is None


def test_both_tables_down_at_first_use_raise_the_original_error() -> None:
    failures_table = TableDownAtFirst(failures=1000)
    sleeps: list[float] = []
    processor = RegistrationProcessor(
        RegistrationWriter(TableDownAtFirst(failures=1000)),
        FailureLog(failures_table),
        FAST_RETRY,
        sleep=sleeps.append,
    )
    message = IncomingMessage(body=body_of(BASE_EVENT), message_id="reg_x", delivery_count=1)
    with pytest.raises(StorageUnavailable, match="Connection refused"):
        processor.process(message)
    assert failures_table.attempts == 1  # the record was tried once, not retried
    assert len(sleeps) == FAST_RETRY.max_attempts - 1


def test_unexpected_error_is_never_swallowed(harness: PipelineHarness) -> None:
    class Broken(InMemoryTableStore):
        def insert(self, entity):
            raise RuntimeError("bug")

    use_table(harness, Broken())
    with pytest.raises(RuntimeError):
        harness.deliver(service_bus_message(body_of(BASE_EVENT), message_id="m3"))
    failure = harness.failures.get("m3")
    assert failure is not None
    assert failure.error_type == "RuntimeError"
    assert harness.sleeps == []  # only TransientError is retried


def test_failure_log_outage_does_not_mask_the_real_error(harness: PipelineHarness) -> None:
    class Down(InMemoryTableStore):
        def upsert(self, entity):
            raise StorageUnavailable("failures table down")

    from shared.failures import FailureLog

    harness.processor._failures = FailureLog(Down())
    with pytest.raises(UnsupportedSchemaVersion):
        harness.deliver(service_bus_message(body_of({**BASE_EVENT, "schema_version": 3})))


def test_correlation_id_without_properties_falls_back_to_the_system_property(harness) -> None:
    harness.deliver(service_bus_message(body_of(BASE_EVENT), correlation_id="sys-corr-123"))
    assert harness.reader.get(USER)[0].correlation_id == "sys-corr-123"


def test_received_at_falls_back_to_enqueued_time(harness: PipelineHarness) -> None:
    harness.deliver(
        service_bus_message(body_of(BASE_EVENT), application_properties={"received_at": "junk"})
    )
    assert harness.reader.get(USER)[0].received_at.isoformat() == "2026-11-26T04:00:00+00:00"


def test_one_log_line_per_outcome_with_the_required_fields(harness, caplog) -> None:
    caplog.set_level("INFO", logger="processor")
    harness.post(http_request(body_of(BASE_EVENT)))
    harness.deliver_published(delivery_count=1)
    harness.deliver_published(delivery_count=2)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "processor"]
    assert [line["outcome"] for line in lines] == ["created", "unchanged"]
    correlation = harness.publisher.messages[0].correlation_id
    for line in lines:
        assert line["correlation_id"] == correlation
        assert {"message_id", "delivery_count", "duration_ms"} <= set(line)
    assert "ana" not in caplog.text.lower()


def test_long_strings_and_metadata_survive_the_round_trip(harness: PipelineHarness) -> None:
    long_name = "Zoë " * 10_000  # 40,000 characters: more than one table property holds
    metadata = {"notes": "ü" * 20_000, "nested": {"list": [1, 2, 3]}}
    body = canonical_json(event(name=long_name, user_metadata=metadata)).encode()
    assert len(body) < 64 * 1024 * 2
    harness.deliver(service_bus_message(body))
    [row] = harness.reader.get(USER)
    assert row.name == long_name
    assert row.user_metadata == metadata
