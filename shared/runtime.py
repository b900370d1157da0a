"""The one per-process object of the Function roles: settings, clients, stores and services.

Microsoft's guidance for Functions is to create clients once per process and
reuse them. `AppContext` builds each part on first use and keeps it; the
triggers ask `get_context()` for the service they adapt, and tests install
their own context (in-memory stores, a fake publisher) with `set_context()`,
like dramatiq's `get_broker()` / `set_broker()`.

A role adds its service as one more `@lazy` property (imported inside the
property, so loading this module does not load every role):

    @lazy
    def reconciler(self) -> Reconciler:
        from reconciler.dependencies import build_reconciler
        return build_reconciler(self)

Building a part does no I/O (clients connect on first use, tables are created
by their first write), so a service that is down when the process starts
fails a call, inside that call's retry policy, not the start-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from azure.data.tables import TableServiceClient
from azure.servicebus import ServiceBusClient

from shared.clients import build_service_bus_client, build_table_service_client
from shared.failures import FailureLog
from shared.log import log_outcome
from shared.publisher import RegistrationPublisher, ServiceBusPublisher
from shared.registrations import RegistrationReader
from shared.rejections import RejectionLog
from shared.settings import Settings, SettingsError, load_settings
from shared.signing import RefusingVerifier, SignatureVerifier, Verifier
from shared.tablestore import AzureTableStore, TableStore
from shared.tracing import Tracer, build_tracer
from shared.writes import RegistrationWriter

if TYPE_CHECKING:
    from events.service import EventStreamService
    from ingest.service import IngestService
    from processor.deletions import DeletionProcessor
    from processor.service import RegistrationProcessor
    from reconciler.service import Reconciler
    from shared.erasure import Eraser
    from shared.tombstones import TombstoneStore

T = TypeVar("T")
logger = logging.getLogger("runtime")


class lazy(Generic[T]):
    """`functools.cached_property` with a per-object lock.

    Python 3.12 dropped cached_property's lock; two first requests racing
    would then build two Service Bus clients and leak one. A failed build is
    not cached: the next access tries again.
    """

    def __init__(self, build: Callable[[Any], T]) -> None:
        self._build = build
        self._name = build.__name__
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> lazy[T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> T | lazy[T]:
        if instance is None:
            return self
        values: dict[str, Any] = instance.__dict__
        if self._name not in values:
            with instance._lock:  # type: ignore[attr-defined]
                if self._name not in values:
                    values[self._name] = self._build(instance)
        value: T = values[self._name]
        return value


class AppContext:
    """Everything a Function role needs, built lazily from one `Settings`.

    Any part can be replaced before first use by assigning it
    (`context.publisher = InMemoryPublisher()`), which is how tests wire
    in-memory implementations of the project's interfaces.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self._lock = threading.RLock()
        self._stores: dict[str, TableStore] = {}
        if settings is not None:
            self.settings = settings

    @lazy
    def settings(self) -> Settings:
        """The app settings (from the environment)."""
        return load_settings()

    @lazy
    def service_bus_client(self) -> ServiceBusClient:
        """One Service Bus client (AMQP connections are opened by its senders)."""
        return build_service_bus_client(self.settings)

    @lazy
    def table_service_client(self) -> TableServiceClient:
        """One Table service client (one HTTP connection pool for every table)."""
        return build_table_service_client(self.settings)

    def table_store(self, table_name: str) -> TableStore:
        """The store of `table_name`, one per table per process (no I/O)."""
        with self._lock:
            if table_name not in self._stores:
                table = self.table_service_client.get_table_client(table_name)
                self._stores[table_name] = AzureTableStore(table)
            return self._stores[table_name]

    def set_table_store(self, table_name: str, store: TableStore) -> None:
        """Use `store` for `table_name` (tests: an `InMemoryTableStore`)."""
        with self._lock:
            self._stores[table_name] = store

    @lazy
    def registration_writer(self) -> RegistrationWriter:
        """Idempotent writes to REGISTRATIONS_TABLE."""
        return RegistrationWriter(self.table_store(self.settings.registrations_table))

    @lazy
    def registration_reader(self) -> RegistrationReader:
        """Reads of REGISTRATIONS_TABLE."""
        return RegistrationReader(self.table_store(self.settings.registrations_table))

    @lazy
    def failure_log(self) -> FailureLog:
        """The last processing error per message id (FAILURES_TABLE)."""
        return FailureLog(self.table_store(self.settings.failures_table))

    @lazy
    def rejections(self) -> RejectionLog:
        """Event Streams deliveries the pipeline could not use, kept for operators."""
        settings = self.settings
        return RejectionLog(self.table_store(settings.failures_table), settings.auth0_tenant_id)

    @lazy
    def publisher(self) -> RegistrationPublisher:
        """Sends to REGISTRATIONS_QUEUE (ingest, Event Streams and the reconciler)."""
        return ServiceBusPublisher(self.service_bus_client, self.settings.registrations_queue)

    @lazy
    def tracer(self) -> Tracer:
        """Spans to LOCALDEV_TRACE_FILE and/or Application Insights, as configured."""
        settings = self.settings
        return build_tracer(
            settings.localdev_trace_file, settings.applicationinsights_connection_string
        )

    @lazy
    def webhook_verifier(self) -> Verifier:
        """WEBHOOK_SECRET's verifier, or one refusing every request when the secret is bad.

        A bad secret is logged here, once per process, not once per request.
        """
        try:
            return SignatureVerifier(self.settings.webhook_secrets)
        except SettingsError as exc:
            log_outcome(
                logger, "configuration", level=logging.ERROR, outcome="invalid",
                setting="WEBHOOK_SECRET", error=str(exc),
            )  # fmt: skip
            return RefusingVerifier("WEBHOOK_SECRET")

    @lazy
    def ingest_service(self) -> IngestService:
        """The ingest role's service."""
        from ingest.service import IngestService

        return IngestService(self.webhook_verifier, self.publisher, tracer=self.tracer)

    @lazy
    def processor_writer(self) -> RegistrationWriter:
        """The processor's writer: it never brings an erased signup back (processor.deletions)."""
        from processor.deletions import TombstoneAwareWriter

        registrations = self.table_store(self.settings.registrations_table)
        return TombstoneAwareWriter(registrations, self.tombstones)

    @lazy
    def processor(self) -> RegistrationProcessor:
        """The processor role's service."""
        from processor.service import RegistrationProcessor

        return RegistrationProcessor(
            self.processor_writer,
            self.failure_log,
            deletions=lambda: self.deletion_processor,
            tracer=self.tracer,
        )

    @lazy
    def tombstones(self) -> TombstoneStore:
        """Deletion times of erased users (TOMBSTONES_TABLE)."""
        from shared.tombstones import TombstoneStore

        return TombstoneStore(self.table_store(self.settings.tombstones_table))

    @lazy
    def eraser(self) -> Eraser:
        """Erases a user everywhere (processor on user.deleted, `ops registrations erase`)."""
        from shared.dead_letters import ServiceBusDeadLetterSweeper
        from shared.erasure import Eraser

        sweeper = ServiceBusDeadLetterSweeper(
            self.service_bus_client, self.settings.registrations_queue
        )
        registrations = self.table_store(self.settings.registrations_table)
        others = {"event_stream_rejections": self.rejections}
        return Eraser(registrations, self.tombstones, self.failure_log, sweeper, others)

    @lazy
    def deletion_processor(self) -> DeletionProcessor:
        """The processor's handler of user.deleted messages (audit rows in APP_AUDIT_TABLE)."""
        from processor.deletions import DeletionProcessor

        audit = self.table_store(self.settings.app_audit_table)
        return DeletionProcessor(self.eraser, audit, self.failure_log)

    @lazy
    def event_stream_service(self) -> EventStreamService:
        """The Event Streams role's service (POST /api/auth0-events)."""
        from events.dependencies import build_event_stream_service

        return build_event_stream_service(self)

    @lazy
    def reconciler(self) -> Reconciler:
        """The reconciler role's service (the timer's sweep; see reconciler.dependencies)."""
        from reconciler.dependencies import build_reconciler

        return build_reconciler(self)


_current: AppContext | None = None
_current_lock = threading.Lock()


def get_context() -> AppContext:
    """The process's context (built from the environment on first use)."""
    global _current
    with _current_lock:
        if _current is None:
            _current = AppContext()
        return _current


def set_context(context: AppContext | None) -> None:
    """Install `context` (tests); None makes the next `get_context()` build a fresh one."""
    global _current
    with _current_lock:
        _current = context
