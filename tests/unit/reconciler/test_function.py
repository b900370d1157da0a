"""The timer trigger called directly, over in-memory stores and a search of our own interface."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from azure.functions.timer import TimerRequest
from pydantic import SecretStr

from localdev.auth0.directory import format_ms
from reconciler.checkpoint import CheckpointStore
from reconciler.dependencies import checkpoint_store, close_search
from reconciler.function import reconcile_sweep
from reconciler.known import TableKnownProblems
from reconciler.service import Reconciler
from shared.publisher import InMemoryPublisher
from shared.registrations import RegistrationReader
from shared.runtime import AppContext, set_context
from shared.settings import Settings, SettingsError
from shared.tablestore import InMemoryTableStore
from tests.unit.reconciler.fakes import InMemoryUserSearch

# Built, never connected.
UNUSED_SERVICE_BUS = (
    "Endpoint=sb://localhost:1;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true;"
)


@dataclass
class Parts:
    reconciler: Reconciler
    checkpoints: CheckpointStore


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
    context = AppContext(Settings(RECONCILE_SETTLE_LAG_SECONDS=120))
    context.reconciler = reconciler
    context.set_table_store(context.settings.reconcile_state_table, InMemoryTableStore())
    set_context(context)
    yield Parts(reconciler, checkpoint_store(context))
    set_context(None)


def test_a_timer_run_enqueues_the_settled_users_and_moves_the_checkpoint(parts):
    before = datetime.now(UTC)

    reconcile_sweep(TimerRequest(past_due=False))

    assert len(parts.reconciler.publisher.messages) == 3  # the 1-minute-old user waits
    checkpoint = parts.checkpoints.get("acme")
    assert checkpoint is not None
    assert (
        before - timedelta(seconds=121) <= checkpoint <= datetime.now(UTC) - timedelta(seconds=119)
    )


def test_the_context_builds_one_reconciler_from_its_own_parts():
    context = AppContext(
        Settings(
            AUTH0_DOMAIN="tenant.example.invalid",
            AUTH0_CLIENT_ID="client",
            AUTH0_CLIENT_SECRET=SecretStr("m2m-client-secret-from-key-vault"),
            AUTH0_TENANT_ID="acme",
            TablesConnection="UseDevelopmentStorage=true",
            ServiceBusConnection=UNUSED_SERVICE_BUS,
        )
    )
    publisher = InMemoryPublisher()
    context.publisher = publisher
    reconciler = context.reconciler  # builds clients, connects nothing
    try:
        assert context.reconciler is reconciler
        assert reconciler.publisher is publisher
        assert reconciler.tenant_id == "acme"
    finally:
        close_search(reconciler)
        context.service_bus_client.close()
        context.table_service_client.close()


def test_without_a_tenant_the_part_fails_naming_the_setting_and_is_not_kept():
    context = AppContext(Settings(AUTH0_TENANT_ID=""))
    with pytest.raises(SettingsError, match="AUTH0_TENANT_ID"):
        _ = context.reconciler
    assert "reconciler" not in vars(context)


def test_unknown_send_fields_names_stop_the_timer_naming_them():
    context = AppContext(Settings(AUTH0_TENANT_ID="acme", SEND_FIELDS="email passwd"))
    with pytest.raises(SettingsError, match="SEND_FIELDS names unknown fields: passwd"):
        _ = context.reconciler
