"""Assemble the reconciler from settings: the real search, tables, queue and checkpoint.

`ReconcilerParts.from_settings` is used by the timer (once per process, kept
by `get_parts`) and by `ops reconcile` (once per command). Building does no
I/O: clients connect on first use, tables are created by their first write.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from azure.data.tables import TableServiceClient
from azure.servicebus import ServiceBusClient

from reconciler.checkpoint import CheckpointStore
from reconciler.dead_letters import ServiceBusDeadLetterIds
from reconciler.known import TableKnownProblems
from reconciler.management import ManagementApiSearch, UserSearch, build_user_search
from reconciler.mapping import parse_send_fields
from reconciler.service import Reconciler
from reconciler.throttle import RequestCeiling
from shared.clients import build_service_bus_client, build_table_service_client
from shared.publisher import ServiceBusPublisher
from shared.registrations import RegistrationReader
from shared.settings import Settings, SettingsError
from shared.tablestore import AzureTableStore


@dataclass
class ReconcilerParts:
    """The reconciler and the timer's checkpoint store, sharing one set of clients."""

    reconciler: Reconciler
    checkpoints: CheckpointStore
    service_bus: ServiceBusClient
    tables: TableServiceClient

    @classmethod
    def from_settings(cls, settings: Settings, search: UserSearch | None = None) -> ReconcilerParts:
        """Everything from app settings; raises `SettingsError` naming what is missing."""
        if not settings.auth0_tenant_id:
            raise SettingsError("set AUTH0_TENANT_ID (it must equal the Action's event.tenant.id)")
        try:
            send_fields = parse_send_fields(settings.send_fields)
        except ValueError as exc:
            raise SettingsError(str(exc)) from exc
        tables = build_table_service_client(settings)
        service_bus = build_service_bus_client(settings)

        def store(name: str) -> AzureTableStore:
            return AzureTableStore(tables.get_table_client(name))

        reconciler = Reconciler(
            search=search
            or build_user_search(settings, RequestCeiling(settings.reconcile_max_rps)),
            reader=RegistrationReader(store(settings.registrations_table)),
            publisher=ServiceBusPublisher(service_bus, settings.registrations_queue),
            known_problems=TableKnownProblems(
                ServiceBusDeadLetterIds(service_bus, settings.registrations_queue),
                failures=store(settings.failures_table),
                tombstones=store(settings.tombstones_table),
            ),
            tenant_id=settings.auth0_tenant_id,
            send_fields=send_fields,
        )
        return cls(
            reconciler, CheckpointStore(store(settings.reconcile_state_table)), service_bus, tables
        )

    def close(self) -> None:
        """Close the publisher's senders, the Auth0 connections and both clients."""
        search = self.reconciler.search
        if isinstance(search, ManagementApiSearch):
            search.close()
        publisher = self.reconciler.publisher
        if isinstance(publisher, ServiceBusPublisher):
            publisher.close()
        self.service_bus.close()
        self.tables.close()


_lock = threading.Lock()
_parts: ReconcilerParts | None = None


def get_parts(settings: Settings) -> ReconcilerParts:
    """The process's parts (the timer reuses its clients across invocations)."""
    global _parts
    with _lock:
        if _parts is None:
            _parts = ReconcilerParts.from_settings(settings)
        return _parts


def set_parts(parts: ReconcilerParts | None) -> None:
    """Replace the process's parts (tests)."""
    global _parts
    with _lock:
        _parts = parts
