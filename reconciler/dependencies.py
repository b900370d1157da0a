"""Assembling the reconciler from the process's parts: the real search, tables, queue.

The Function process builds it once, as the `reconciler` part of
`shared.runtime.AppContext` (kept for the process's life, like every part);
`ops reconcile` builds it once per command from `ops.Wiring`'s clients. Building
does no I/O: clients connect on first use, tables are created by their first write.
"""

from __future__ import annotations

from typing import Protocol

from azure.servicebus import ServiceBusClient

from reconciler.checkpoint import CheckpointStore
from reconciler.dead_letters import ServiceBusDeadLetterIds
from reconciler.known import TableKnownProblems
from reconciler.management import ManagementApiSearch, build_user_search
from reconciler.service import Reconciler
from reconciler.throttle import RequestCeiling
from shared.publisher import RegistrationPublisher
from shared.registrations import RegistrationReader
from shared.send_fields import parse_send_fields
from shared.settings import Settings, SettingsError
from shared.tablestore import TableStore


class ReconcilerParts(Protocol):
    """What the reconciler is built from (`shared.runtime.AppContext` has all of it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def service_bus_client(self) -> ServiceBusClient: ...
    @property
    def publisher(self) -> RegistrationPublisher: ...
    def table_store(self, table_name: str) -> TableStore: ...


def build_reconciler(parts: ReconcilerParts) -> Reconciler:
    """The reconciler from app settings; raises `SettingsError` naming what is missing."""
    settings = parts.settings
    if not settings.auth0_tenant_id:
        raise SettingsError("set AUTH0_TENANT_ID (it must equal the Action's event.tenant.id)")
    send_fields = parse_send_fields(settings.send_fields)
    if send_fields.unknown:  # the Action only warns; a timer can fail loudly
        raise SettingsError(f"SEND_FIELDS names unknown fields: {', '.join(send_fields.unknown)}")
    return Reconciler(
        search=build_user_search(settings, RequestCeiling(settings.reconcile_max_rps)),
        reader=RegistrationReader(parts.table_store(settings.registrations_table)),
        publisher=parts.publisher,
        known_problems=TableKnownProblems(
            ServiceBusDeadLetterIds(parts.service_bus_client, settings.registrations_queue),
            failures=parts.table_store(settings.failures_table),
            tombstones=parts.table_store(settings.tombstones_table),
        ),
        tenant_id=settings.auth0_tenant_id,
        send_fields=send_fields.fields,
    )


def checkpoint_store(parts: ReconcilerParts) -> CheckpointStore:
    """The timer's checkpoint (RECONCILE_STATE_TABLE); `ops reconcile` never reads it."""
    return CheckpointStore(parts.table_store(parts.settings.reconcile_state_table))


def close_search(reconciler: Reconciler) -> None:
    """Close the Auth0 connections `build_reconciler` opened.

    The publisher and the clients belong to the parts and are closed by their owner
    (`ops.Wiring`, or a test); a Function process keeps all of them for its life.
    """
    if isinstance(reconciler.search, ManagementApiSearch):
        reconciler.search.close()
