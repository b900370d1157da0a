"""How the SDK clients are built. Nothing is cached here: `shared.runtime.AppContext`
keeps one of each per Function process, `ops.wiring` one per CLI command.

Connection strings and identity-based connections
(`<Name>__fullyQualifiedNamespace` / `<Name>__tableServiceUri`, optional
`__credential=managedidentity` and `__clientId`) are both supported.

SDK-level retries are off (`retry_total=0`): `shared.retries` is the one
retry policy, so attempts never multiply silently.
"""

from __future__ import annotations

import os
import urllib.request
from typing import Any

import requests
from azure.core.credentials import TokenCredential
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableServiceClient
from azure.servicebus import ServiceBusClient
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shared.settings import Settings

# Per-request socket budgets: one slow call cannot eat the message lock.
TABLE_CONNECTION_TIMEOUT = 5.0
TABLE_READ_TIMEOUT = 10.0
SERVICE_BUS_SOCKET_TIMEOUT = 5.0
# Kept-alive connections per table host. The processor runs host.json
# maxConcurrentCalls (16) invocations at once on one client; the requests default
# (10) made it open and throw away a connection per call beyond the tenth.
TABLE_CONNECTION_POOL_SIZE = 32


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
    # azure-core's `use_env_settings` only configures sessions it creates itself.
    session.trust_env = proxies_configured()
    adapter = HTTPAdapter(
        pool_maxsize=pool_size,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return RequestsTransport(
        session=session,
        session_owner=True,
        connection_verify=ca_bundle(),
        connection_timeout=TABLE_CONNECTION_TIMEOUT,
        read_timeout=TABLE_READ_TIMEOUT,
    )


def proxies_configured() -> bool:
    """Whether proxy environment variables are set (then requests must read them).

    With `trust_env` on, requests looks up proxy variables, `no_proxy` rules and
    ~/.netrc on **every** call: 5-8 % of the processor's CPU samples (py-spy,
    docs/benchmarks.md "Code cost"). Table Storage needs none of it unless a
    proxy is configured.
    """
    return bool(urllib.request.getproxies())


def ca_bundle() -> str | bool:
    """The CA bundle requests would take from the environment, else True (certifi).

    Passed to the transport explicitly, so a custom bundle still applies with
    `trust_env` off. The same variables, in the same order, as requests reads.
    """
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def build_table_service_client(settings: Settings) -> TableServiceClient:
    """A TableServiceClient from a connection string or a service URI + identity."""
    settings.require_tables()
    options: dict[str, Any] = {"retry_total": 0, "transport": table_transport()}
    if settings.tables_connection:
        return TableServiceClient.from_connection_string(settings.tables_connection, **options)
    identity = credential(settings.tables_credential, settings.tables_client_id)
    return TableServiceClient(str(settings.tables_service_uri), credential=identity, **options)
