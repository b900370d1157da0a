"""Table Storage down when the processor first needs it: the set-up is retried, not fatal.

The local host (like the real one) redelivers at once after an abandon, so a
set-up failure that escaped the retry policy spent all 10 deliveries in ~30 ms
and dead-lettered the message after a blip. These tests use real sockets.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest

from localdev.azurite import Azurite
from processor.service import IncomingMessage
from shared.errors import StorageUnavailable
from shared.retries import PROCESSOR_TABLE_RETRY
from shared.runtime import AppContext, get_context, set_context
from shared.settings import Settings
from shared.writes import WriteOutcome
from tests.fixtures.azurite import running_azurite
from tests.integration.pipeline.conftest import make_store
from tests.unit.pipeline.conftest import BASE_EVENT, body_of

USER = BASE_EVENT["user"]["user_id"]
DOWN_FOR = 1.0  # seconds Azurite stays stopped once the processor is called


@pytest.mark.parametrize("fault", ["busy", "resets"])
def test_table_creation_on_first_write_converts_503_and_resets_and_is_tried_again(
    faulty_proxy, tables_connection_string, table_name_factory, fault
) -> None:
    name = table_name_factory("setup")
    store = make_store(faulty_proxy.connection_string(), name, create=False)
    setattr(faulty_proxy, fault, 1)

    # When: the first write's table creation meets a 503 or a reset
    with pytest.raises(StorageUnavailable):
        store.insert({"PartitionKey": "p", "RowKey": "r", "value": "one"})

    # Then: it was not remembered as done: the next write creates the table and lands
    store.insert({"PartitionKey": "p", "RowKey": "r", "value": "one"})
    direct = make_store(tables_connection_string, name, create=False)
    found = direct.get("p", "r")
    assert found is not None
    assert found.entity["value"] == "one"
    assert faulty_proxy.refused == 1


@pytest.fixture
def own_azurite(tmp_path: Path):
    """An Azurite of this test's own on a free port (the test stops and restarts it)."""
    with running_azurite(tmp_path / "azurite.log") as server:
        yield server


@pytest.fixture
def app_clients(own_azurite: Azurite):
    """The process-wide clients and processor, as the app builds them, against `own_azurite`."""
    set_context(AppContext(Settings(TablesConnection=own_azurite.connection_string)))
    yield
    set_context(None)


def test_processor_called_while_azurite_is_down_stores_the_registration(
    own_azurite: Azurite, app_clients: None, caplog: pytest.LogCaptureFixture
) -> None:
    # Given: Azurite is stopped; it comes back on the same port DOWN_FOR s after the call
    own_azurite.stop()
    restart_errors: list[BaseException] = []

    def restart() -> None:
        time.sleep(DOWN_FOR)
        try:
            own_azurite.start()
        except BaseException as exc:
            restart_errors.append(exc)

    restarter = threading.Thread(target=restart)
    message = IncomingMessage(
        body=body_of(BASE_EVENT),
        message_id="reg_down_at_start",
        delivery_count=1,
        application_properties={"correlation_id": "corr-down-at-start"},
    )

    # When: the first delivery builds the processor (clients, stores) and processes
    caplog.set_level(logging.WARNING, logger="processor")
    started = time.monotonic()
    restarter.start()
    try:
        outcome = get_context().processor.process(message)
    finally:
        restarter.join(timeout=60)
    elapsed = time.monotonic() - started

    # Then: one delivery, retried by PROCESSOR_TABLE_RETRY, stored the registration
    assert restart_errors == []
    assert outcome is WriteOutcome.CREATED
    retries = [json.loads(r.getMessage()) for r in caplog.records if r.name == "processor"]
    assert retries, "the outage was never seen: Azurite came back too early"
    assert {line["outcome"] for line in retries} == {"retrying"}
    assert {line["error_type"] for line in retries} == {"StorageUnavailable"}
    assert len(retries) < PROCESSOR_TABLE_RETRY.max_attempts
    assert DOWN_FOR < elapsed < PROCESSOR_TABLE_RETRY.total_budget
    [row] = get_context().registration_reader.get(USER)
    assert row.correlation_id == "corr-down-at-start"
    assert get_context().failure_log.get("reg_down_at_start") is None
