"""The timer trigger called directly, over in-memory stores and a search of our own interface."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient
from azure.functions.timer import TimerRequest
from azure.servicebus import ServiceBusClient

from localdev.auth0.directory import format_ms
from reconciler.checkpoint import CheckpointStore
from reconciler.dependencies import ReconcilerParts, set_parts
from reconciler.function import reconcile_sweep
from reconciler.known import TableKnownProblems
from reconciler.service import Reconciler
from shared.publisher import InMemoryPublisher
from shared.registrations import RegistrationReader
from shared.tablestore import InMemoryTableStore
from tests.unit.reconciler.fakes import InMemoryUserSearch

# Built, never connected: the parts hold them only to close them.
UNUSED_SERVICE_BUS = (
    "Endpoint=sb://localhost:1;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true;"
)
UNUSED_TABLES = "UseDevelopmentStorage=true"


@pytest.fixture
def parts():
    now = datetime.now(UTC)
    users = [
        {"user_id": f"auth0|t{n}", "created_at": format_ms(now - timedelta(minutes=m))}
        for n, m in enumerate((30, 20, 10, 1))  # the last one is inside the settle lag
    ]
    publisher = InMemoryPublisher()
    reconciler = Reconciler(
        search=InMemoryUserSearch(users),
        reader=RegistrationReader(InMemoryTableStore()),
        publisher=publisher,
        known_problems=TableKnownProblems(set, InMemoryTableStore(), InMemoryTableStore()),
        tenant_id="acme",
    )
    built = ReconcilerParts(
        reconciler,
        CheckpointStore(InMemoryTableStore()),
        ServiceBusClient.from_connection_string(UNUSED_SERVICE_BUS),
        TableServiceClient.from_connection_string(UNUSED_TABLES),
    )
    set_parts(built)
    yield built
    set_parts(None)
    built.service_bus.close()
    built.tables.close()


def test_a_timer_run_enqueues_the_settled_users_and_moves_the_checkpoint(parts, monkeypatch):
    monkeypatch.setenv("RECONCILE_SETTLE_LAG_SECONDS", "120")
    before = datetime.now(UTC)

    reconcile_sweep(TimerRequest(past_due=False))

    assert len(parts.reconciler.publisher.messages) == 3  # the 1-minute-old user waits
    checkpoint = parts.checkpoints.get("acme")
    assert checkpoint is not None
    assert (
        before - timedelta(seconds=121) <= checkpoint <= datetime.now(UTC) - timedelta(seconds=119)
    )
