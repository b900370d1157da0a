"""Clients created once per process, lazily, and reused (Microsoft's guidance for Functions).

Each getter builds its client on first use from `get_settings()`; each setter
replaces it (tests, the local host), like dramatiq's `get_broker()` /
`set_broker()`. Connection strings and identity-based connections
(`<Name>__fullyQualifiedNamespace` / `<Name>__tableServiceUri`, optional
`__credential=managedidentity` and `__clientId`) are both supported.

SDK-level retries are off (`retry_total=0`): `shared.retries` is the one
retry policy, so attempts never multiply silently.
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar

import requests
from azure.core.credentials import TokenCredential
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableServiceClient
from azure.servicebus import ServiceBusClient
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shared.failures import FailureLog
from shared.registrations import RegistrationReader
from shared.settings import Settings, load_settings
from shared.tablestore import AzureTableStore
from shared.writes import RegistrationWriter

T = TypeVar("T")

# Per-request socket budgets: one slow call cannot eat the message lock.
TABLE_CONNECTION_TIMEOUT = 5.0
TABLE_READ_TIMEOUT = 10.0
SERVICE_BUS_SOCKET_TIMEOUT = 5.0
# Kept-alive connections per table host. The processor runs host.json
# maxConcurrentCalls (16) invocations at once on one client; the requests default
# (10) made it open and throw away a connection per call beyond the tenth.
TABLE_CONNECTION_POOL_SIZE = 32

_lock = threading.RLock()
_instances: dict[str, Any] = {}


def _get(name: str, build: Any) -> Any:
    with _lock:
        if name not in _instances:
            _instances[name] = build()
        return _instances[name]


def _set(name: str, value: object | None) -> None:
    with _lock:
        if value is None:
            _instances.pop(name, None)
        else:
            _instances[name] = value


def reset_clients() -> None:
    """Forget every cached client and the settings (tests)."""
    with _lock:
        _instances.clear()


def get_settings() -> Settings:
    """The process's settings (from the environment unless `set_settings` was called)."""
    settings: Settings = _get("settings", load_settings)
    return settings


def set_settings(settings: Settings | None) -> None:
    _set("settings", settings)


def credential(credential_kind: str | None, client_id: str | None) -> TokenCredential:
    """The identity for `<Name>__credential` / `<Name>__clientId`."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if (credential_kind or "").lower() == "managedidentity":
        return ManagedIdentityCredential(client_id=client_id)
    return DefaultAzureCredential(managed_identity_client_id=client_id)


def build_service_bus_client(settings: Settings) -> ServiceBusClient:
    """A ServiceBusClient from a connection string or a namespace + identity."""
    settings.require_service_bus()
    options: dict[str, Any] = {"retry_total": 0, "socket_timeout": SERVICE_BUS_SOCKET_TIMEOUT}
    if settings.service_bus_connection:
        return ServiceBusClient.from_connection_string(settings.service_bus_connection, **options)
    identity = credential(settings.service_bus_credential, settings.service_bus_client_id)
    return ServiceBusClient(str(settings.service_bus_namespace), identity, **options)


def table_transport(pool_size: int = TABLE_CONNECTION_POOL_SIZE) -> RequestsTransport:
    """azure-core's requests transport with room for `pool_size` kept-alive connections per host.

    The session is configured as `RequestsTransport` configures its own (urllib3
    retries off: azure-core and `shared.retries` decide), and the transport owns it:
    closing the client closes the session.
    """
    session = requests.Session()
    adapter = HTTPAdapter(
        pool_maxsize=pool_size,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return RequestsTransport(
        session=session,
        session_owner=True,
        connection_timeout=TABLE_CONNECTION_TIMEOUT,
        read_timeout=TABLE_READ_TIMEOUT,
    )


def build_table_service_client(settings: Settings) -> TableServiceClient:
    """A TableServiceClient from a connection string or a service URI + identity."""
    settings.require_tables()
    options: dict[str, Any] = {"retry_total": 0, "transport": table_transport()}
    if settings.tables_connection:
        return TableServiceClient.from_connection_string(settings.tables_connection, **options)
    identity = credential(settings.tables_credential, settings.tables_client_id)
    return TableServiceClient(str(settings.tables_service_uri), credential=identity, **options)


def get_service_bus_client() -> ServiceBusClient:
    client: ServiceBusClient = _get("service_bus", lambda: build_service_bus_client(get_settings()))
    return client


def set_service_bus_client(client: ServiceBusClient | None) -> None:
    _set("service_bus", client)


def get_table_service_client() -> TableServiceClient:
    client: TableServiceClient = _get("tables", lambda: build_table_service_client(get_settings()))
    return client


def set_table_service_client(client: TableServiceClient | None) -> None:
    _set("tables", client)


def table_store(table_name: str) -> AzureTableStore:
    """An `AzureTableStore` for `table_name`, built once per process without any I/O.

    The table itself is created by the store's first write, inside the caller's
    retry policy: creating it here made a table service that was down at the
    first delivery fail every delivery at once, with no retry and no record.
    """

    def build() -> AzureTableStore:
        return AzureTableStore(get_table_service_client().get_table_client(table_name))

    store: AzureTableStore = _get(f"table:{table_name}", build)
    return store


def get_registration_writer() -> RegistrationWriter:
    writer: RegistrationWriter = _get(
        "writer", lambda: RegistrationWriter(table_store(get_settings().registrations_table))
    )
    return writer


def set_registration_writer(writer: RegistrationWriter | None) -> None:
    _set("writer", writer)


def get_registration_reader() -> RegistrationReader:
    reader: RegistrationReader = _get(
        "reader", lambda: RegistrationReader(table_store(get_settings().registrations_table))
    )
    return reader


def set_registration_reader(reader: RegistrationReader | None) -> None:
    _set("reader", reader)


def get_failure_log() -> FailureLog:
    log: FailureLog = _get(
        "failures", lambda: FailureLog(table_store(get_settings().failures_table))
    )
    return log


def set_failure_log(log: FailureLog | None) -> None:
    _set("failures", log)
