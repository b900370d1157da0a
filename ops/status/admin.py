"""QueueCounter on azure-servicebus' ServiceBusAdministrationClient (the management REST API).

The SDK speaks HTTPS only. In Azure it reaches the namespace itself and needs
Manage rights there (the operator's, not the app's). Locally the emulator
serves the same API on a port of its own with a certificate generated into
`.localdev/`: SERVICEBUS_ADMIN_ENDPOINT names that host:port and
SERVICEBUS_ADMIN_CA_BUNDLE the CA to trust (`connection_verify`).
SDK retries are off: an unreachable endpoint is one line within seconds.
"""

from __future__ import annotations

import re
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.servicebus.management import ServiceBusAdministrationClient

from ops.errors import OpsError, ServiceUnreachable, one_line
from ops.status.sample import QueueCounts
from shared.clients import credential
from shared.errors import map_exceptions
from shared.settings import Settings, SettingsError

ADMIN_TIMEOUT_SECONDS = 10


class AdminQueueCounter:
    """Reads queue runtime properties through one ServiceBusAdministrationClient."""

    def __init__(self, client: ServiceBusAdministrationClient, endpoint: str) -> None:
        self.client = client
        self.endpoint = endpoint

    def counts(self, queue_name: str) -> QueueCounts:
        """The queue's active, scheduled and dead-letter counts."""
        with map_exceptions(_errors(self.endpoint, queue_name)):
            properties = self.client.get_queue_runtime_properties(queue_name)
        return QueueCounts(
            active=int(properties.active_message_count or 0),
            scheduled=int(properties.scheduled_message_count or 0),
            dead_letter=int(properties.dead_letter_message_count or 0),
        )

    def close(self) -> None:
        """Close the client's HTTP session."""
        self.client.close()


def build_admin_counter(settings: Settings) -> AdminQueueCounter:
    """The counter for the configured namespace (or SERVICEBUS_ADMIN_ENDPOINT)."""
    try:
        settings.require_service_bus()
    except SettingsError as exc:
        raise OpsError(f"no Service Bus configured: {exc}") from exc
    options: dict[str, Any] = {
        "retry_total": 0,
        "connection_timeout": ADMIN_TIMEOUT_SECONDS,
        "read_timeout": ADMIN_TIMEOUT_SECONDS,
    }
    if settings.service_bus_admin_ca_bundle:
        options["connection_verify"] = settings.service_bus_admin_ca_bundle
    endpoint = settings.service_bus_admin_endpoint
    if settings.service_bus_connection:
        connection = settings.service_bus_connection
        if endpoint:
            connection = re.sub(r"(?i)Endpoint=[^;]*", f"Endpoint=sb://{endpoint}", connection)
        try:
            client = ServiceBusAdministrationClient.from_connection_string(connection, **options)
        except ValueError as exc:
            raise OpsError(f"invalid ServiceBusConnection: {one_line(exc)}") from exc
    else:
        identity = credential(settings.service_bus_credential, settings.service_bus_client_id)
        namespace = endpoint or str(settings.service_bus_namespace)
        client = ServiceBusAdministrationClient(namespace, identity, **options)
    return AdminQueueCounter(client, client.fully_qualified_namespace)


def _errors(endpoint: str, queue: str) -> dict[type[Exception], Any]:
    where = f"https://{endpoint}"

    def status_error(exc: Exception) -> Exception:
        status = getattr(exc, "status_code", None)
        if status in (401, 403):
            return OpsError(
                f"the Service Bus administration API refused access ({where}, {status}):"
                " ops status needs Manage rights on the namespace"
            )
        return OpsError(f"the Service Bus administration API answered {status} ({where})")

    unreachable = f"the Service Bus administration endpoint is unreachable ({where})"

    def request_error(exc: Exception) -> Exception:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return OpsError(
                f"the certificate of {where} is not trusted: set SERVICEBUS_ADMIN_CA_BUNDLE"
                " to the CA that signed it (locally: the emulator's CA in .localdev/)"
            )
        return ServiceUnreachable(f"{unreachable}: {one_line(exc)}")

    return {
        ServiceRequestError: request_error,
        ServiceResponseError: lambda exc: ServiceUnreachable(f"{unreachable}: {one_line(exc)}"),
        ClientAuthenticationError: status_error,
        ResourceNotFoundError: lambda exc: OpsError(f"queue {queue!r} does not exist ({where})"),
        HttpResponseError: status_error,
    }
