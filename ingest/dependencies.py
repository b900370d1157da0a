"""The ingest role's per-process objects, built lazily from `shared.clients`; settable for tests."""

from __future__ import annotations

import threading

from shared.publisher import RegistrationPublisher, ServiceBusPublisher
from ingest.service import IngestService
from shared import clients
from shared.signing import SignatureVerifier

_lock = threading.Lock()
_publisher: RegistrationPublisher | None = None
_service: IngestService | None = None


def get_publisher() -> RegistrationPublisher:
    """The process's publisher (Service Bus, queue REGISTRATIONS_QUEUE)."""
    global _publisher
    with _lock:
        if _publisher is None:
            queue = clients.get_settings().registrations_queue
            _publisher = ServiceBusPublisher(clients.get_service_bus_client(), queue)
        return _publisher


def set_publisher(publisher: RegistrationPublisher | None) -> None:
    global _publisher, _service
    with _lock:
        _publisher, _service = publisher, None


def get_ingest_service() -> IngestService:
    """The process's `IngestService` (its verifier holds the WEBHOOK_SECRET secrets)."""
    global _service
    publisher = get_publisher()
    with _lock:
        if _service is None:
            verifier = SignatureVerifier(clients.get_settings().webhook_secrets)
            _service = IngestService(verifier, publisher)
        return _service


def set_ingest_service(service: IngestService | None) -> None:
    global _service
    with _lock:
        _service = service
