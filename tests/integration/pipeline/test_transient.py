"""Transient table failures injected through a real socket: the processor retries, then succeeds."""

from __future__ import annotations

import pytest

from processor.service import IncomingMessage, RegistrationProcessor
from shared.errors import StorageUnavailable
from shared.failures import FailureLog
from shared.registrations import RegistrationReader
from shared.retries import PROCESSOR_TABLE_RETRY, RetryPolicy
from shared.writes import RegistrationWriter
from tests.integration.pipeline.conftest import make_store
from tests.unit.pipeline.conftest import BASE_EVENT, body_of

USER = BASE_EVENT["user"]["user_id"]
QUICK = RetryPolicy(
    "quick", max_attempts=3, initial_delay=0.05, max_delay=0.1, jitter=0.05, total_budget=2.0
)


@pytest.fixture
def tables(faulty_proxy, tables_connection_string, table_name_factory):
    """(store behind the proxy, direct store, failure log) on fresh Azurite tables."""
    name, failures = table_name_factory("reg"), table_name_factory("fail")
    direct = make_store(tables_connection_string, name)
    # not created through the proxy: its first connection must be one the test breaks
    behind_proxy = make_store(faulty_proxy.connection_string(), name, create=False)
    return behind_proxy, direct, FailureLog(make_store(tables_connection_string, failures))


def message(delivery_count: int = 1) -> IncomingMessage:
    return IncomingMessage(
        body=body_of(BASE_EVENT),
        message_id="reg_transient",
        delivery_count=delivery_count,
        application_properties={"correlation_id": "corr-transient-1"},
    )


@pytest.mark.parametrize("fault", ["busy", "resets"])
def test_503s_and_resets_are_retried_with_the_real_policy(faulty_proxy, tables, fault) -> None:
    behind_proxy, direct, failures = tables
    setattr(faulty_proxy, fault, 2)
    processor = RegistrationProcessor(
        RegistrationWriter(behind_proxy), failures, PROCESSOR_TABLE_RETRY
    )

    processor.process(message())

    assert faulty_proxy.refused == 2
    [row] = RegistrationReader(direct).get(USER)
    assert row.correlation_id == "corr-transient-1"
    assert failures.get("reg_transient") is None


def test_outage_longer_than_the_budget_raises_and_records_the_last_error(
    faulty_proxy, tables
) -> None:
    behind_proxy, direct, failures = tables
    faulty_proxy.busy = 1000
    processor = RegistrationProcessor(RegistrationWriter(behind_proxy), failures, QUICK)

    with pytest.raises(StorageUnavailable):
        processor.process(message(delivery_count=4))

    assert faulty_proxy.refused == QUICK.max_attempts
    failure = failures.get("reg_transient")
    assert failure is not None
    assert not failure.permanent
    assert "503" in failure.error_message
    assert failure.delivery_count == 4
    assert RegistrationReader(direct).get(USER) == []

    # When the broker redelivers after the outage, the write lands and the record is cleared
    faulty_proxy.busy = 0
    processor.process(message(delivery_count=5))
    assert len(RegistrationReader(direct).get(USER)) == 1
    assert failures.get("reg_transient") is None
