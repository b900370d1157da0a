"""The composition root of `python -m ops`: settings in, clients and services out.

Clients are created lazily (a command that only reads the table never opens
an AMQP connection) and closed once at the end. They come from
`shared.clients`' builders, whose SDK retries are off: an unreachable
service gives a one-line error within seconds, and every ops action is safe
to run again. What the app has too (the failure log, the registrations
reader, the eraser, the reconciler's parts) is the app's own
`shared.runtime.AppContext`, over these clients, so it is built one way.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from azure.data.tables import TableClient, TableServiceClient
from azure.servicebus import ServiceBusClient

from ops.audit.record import AuditTrail
from ops.audit.table import TableAuditStore
from ops.audit.who import entra_operator, local_operator
from ops.deadletters.servicebus import ServiceBusDeadLetterQueue
from ops.errors import OpsError
from ops.status.admin import AdminQueueCounter, build_admin_counter
from shared.clients import build_service_bus_client, build_table_service_client, credential
from shared.publisher import RegistrationPublisher, ServiceBusPublisher
from shared.runtime import AppContext, lazy
from shared.settings import Settings, SettingsError, load_settings

DEFAULT_LOCAL_SETTINGS = Path("local.settings.json")
_Client = TypeVar("_Client")


class Wiring:
    """Builds what a command needs from the settings, once, and closes it afterwards."""

    def __init__(self, settings_path: Path | None = None, operator: str | None = None) -> None:
        self.settings_path = settings_path
        self.declared_operator = operator
        self._closers: list[Any] = []

    @cached_property
    def operator(self) -> str:
        """Who the audit log names: the token's Entra principal, or `local:<name>`."""
        settings = self.settings
        if settings.tables_connection:
            return local_operator(self.declared_operator)
        identity = credential(settings.tables_credential, settings.tables_client_id)
        return entra_operator(identity, self.declared_operator)

    @cached_property
    def settings(self) -> Settings:
        """The app settings: environment over `--settings` (default ./local.settings.json)."""
        path = self.settings_path
        if path is not None and not path.is_file():
            raise OpsError(f"settings file not found: {path}")
        try:
            return load_settings(path or DEFAULT_LOCAL_SETTINGS)
        except (SettingsError, ValueError) as exc:
            raise OpsError(f"invalid settings: {' '.join(str(exc).split())}") from exc

    @cached_property
    def servicebus(self) -> ServiceBusClient:
        """One ServiceBusClient for the whole command (shared's builder: no hidden retries)."""
        return self._opened(build_service_bus_client, "Service Bus")

    @cached_property
    def tables(self) -> TableServiceClient:
        """One TableServiceClient for the whole command."""
        return self._opened(build_table_service_client, "Table Storage")

    def _opened(self, build: Callable[[Settings], _Client], service: str) -> _Client:
        """A client from `build`, closed by `close`; missing settings are a one-line error."""
        try:
            client = build(self.settings)
        except SettingsError as exc:
            raise OpsError(f"no {service} configured: {exc}") from exc
        self._closers.append(client)
        return client

    def table(self, name: str) -> TableClient:
        """A client for one table of the configured account."""
        return self.tables.get_table_client(name)

    @cached_property
    def dead_letter_queue(self) -> ServiceBusDeadLetterQueue:
        """The DLQ of REGISTRATIONS_QUEUE."""
        queue = ServiceBusDeadLetterQueue(self.servicebus, self.settings.registrations_queue)
        self.close_first(queue)
        return queue

    @cached_property
    def queue_counter(self) -> AdminQueueCounter:
        """The queue's runtime counts through the Service Bus administration API (`status`)."""
        counter = build_admin_counter(self.settings)
        self._closers.append(counter)
        return counter

    @cached_property
    def audit(self) -> AuditTrail:
        """The audit trail in AUDIT_TABLE, recording as this operator."""
        return AuditTrail(self.audit_store, self.operator)

    @cached_property
    def audit_store(self) -> TableAuditStore:
        """The operators' audit rows (AUDIT_TABLE)."""
        return TableAuditStore(self.table(self.settings.audit_table))

    @cached_property
    def app_audit(self) -> TableAuditStore:
        """The app's own erasure rows (APP_AUDIT_TABLE), read by `audit list`."""
        return TableAuditStore(self.table(self.settings.app_audit_table))

    def close_first(self, link: Any) -> None:
        """Close `link` (a sender or receiver) with the others, before the client it uses."""
        self._closers.insert(0, link)

    def close(self) -> None:
        """Close every client this wiring opened."""
        for closer in self._closers:
            # Closing after the work is done must not mask the command's own result.
            with suppress(Exception):
                closer.close()
        self._closers.clear()

    @cached_property
    def app(self) -> AppContext:
        """The app's parts (failure log, registration reader, eraser, kept rejections...).

        Built as the Function roles build them (`shared.runtime`), over this command's clients.
        """
        return CommandContext(self)


class CommandContext(AppContext):
    """The app's parts over the clients of one command, which its `Wiring` opens and closes."""

    def __init__(self, wiring: Wiring) -> None:
        super().__init__(wiring.settings)
        self._wiring = wiring

    @lazy
    def service_bus_client(self) -> ServiceBusClient:
        """The command's ServiceBusClient."""
        return self._wiring.servicebus

    @lazy
    def table_service_client(self) -> TableServiceClient:
        """The command's TableServiceClient."""
        return self._wiring.tables

    @lazy
    def publisher(self) -> RegistrationPublisher:
        """Sends to REGISTRATIONS_QUEUE (`reconcile`); the wiring closes it before its client."""
        publisher = ServiceBusPublisher(self.service_bus_client, self.settings.registrations_queue)
        self._wiring.close_first(publisher)
        return publisher
