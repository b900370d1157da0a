"""Unit-test helpers for the pipeline: signed requests, in-memory stores, the triggers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import azure.functions as func
import pytest
from azure.functions.servicebus import ServiceBusMessage
from pydantic import SecretStr

import function_app
from ingest.service import IngestService
from processor.service import RegistrationProcessor
from shared.errors import StorageUnavailable
from shared.events import validate_event
from shared.failures import FailureLog
from shared.publisher import InMemoryPublisher
from shared.registrations import Registration, RegistrationReader
from shared.retries import RetryPolicy
from shared.runtime import AppContext, set_context
from shared.settings import Settings
from shared.signing import SignatureVerifier, signed_headers
from shared.tablestore import InMemoryTableStore
from shared.writes import RegistrationWriter

SECRET = "whsec_" + base64.b64encode(b"unit-test-secret-32-bytes-long!!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-secret-for-rotation-test").decode()
FAST_RETRY = RetryPolicy(
    "test", max_attempts=4, initial_delay=0.01, max_delay=0.02, jitter=0.0, total_budget=5.0
)


def registration_event(**parts: Any) -> dict[str, Any]:
    """A `user.registered` event (schema 1, tenant acme-prod) with these top-level `parts`."""
    return {"type": "user.registered", "schema_version": 1, "tenant": {"id": "acme-prod"}, **parts}


BASE_EVENT = registration_event(
    connection={"id": "con_1", "name": "Username-Password-Authentication", "strategy": "auth0"},
    user={
        "user_id": "auth0|6745a1f09c2b3d4e5f607182",
        "email": "ana.silva@example.com",
        "phone_number": None,
        "name": "Ana Silva",
        "created_at": "2026-11-26T03:12:45.118Z",
        "user_metadata": {},
    },
    request={"ip": "203.0.113.7", "language": "pt-BR"},
)


SAMPLES: dict[str, dict[str, Any]] = {
    "database": BASE_EVENT,
    "passwordless-sms": registration_event(
        connection={"id": "con_Q8", "name": "sms", "strategy": "sms"},
        user={
            "user_id": "sms|6745a2b7d1e2f3a4b5c6d7e8",
            "phone_number": "+5511987654321",
            "phone_verified": True,
            "created_at": "2026-11-26T03:14:02.550Z",
        },
    ),
    "enterprise-unicode": registration_event(
        user={
            "user_id": "samlp|acme|jdoe/ü#?%~ \\x",
            "email": "zoë.müller+news@example.de",
            "given_name": "Zoë",
            "created_at": "2026-11-26T04:15:30+01:00",
            "user_metadata": {"locale": "de-DE", "referral": {"code": "W26"}},
            "app_metadata": {"roles": ["reader"]},
            "some_future_field": {"ignored": True},
        },
        transaction={"id": "ignored"},
    ),
}


def body_of(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode("utf-8")


def event(**user: Any) -> dict[str, Any]:
    """A valid payload with `user` fields overridden."""
    document = json.loads(json.dumps(BASE_EVENT))
    document["user"].update(user)
    return document


def stored(document: dict[str, Any], at: datetime) -> Registration:
    """`document` as the processor stores it, received and processed at `at`."""
    return Registration.from_event(
        validate_event(document),
        message_id="m",
        correlation_id="c",
        received_at=at,
        processed_at=at,
        delivery_count=1,
    )


class FailingFirst(InMemoryTableStore):
    """An in-memory table whose first `failures` guarded calls raise `StorageUnavailable`.

    A subclass guards the calls its outage hits by calling `_guard()` first; `attempts`
    counts every guarded call, failed or not.
    """

    reason: ClassVar[str]  # the error's message, as the outage it plays would word it

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    def _guard(self) -> None:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise StorageUnavailable(self.reason)


class TableDownAtFirst(FailingFirst):
    """An in-memory table whose creation fails `failures` times (service down), then works."""

    reason = "ServiceRequestError: [Errno 111] Connection refused"

    def _create_table(self) -> None:
        self._guard()
        super()._create_table()


# get_functions() indexes (and validates) the app; the host does it once, so do we.
def _user_functions() -> dict[str, Callable[..., Any]]:
    functions: dict[str, Callable[..., Any]] = {}
    for function in function_app.app.get_functions():
        name = function.get_function_name()
        assert name is not None  # every function of the app is named
        functions[name] = function.get_user_function()
    return functions


USER_FUNCTIONS = _user_functions()


def user_function(name: str) -> Callable[..., Any]:
    """The plain Python function the Functions host would call for `name`."""
    return USER_FUNCTIONS[name]


def http_request(
    body: bytes,
    *,
    secret: str = SECRET,
    sign: bool = True,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    timestamp: datetime | None = None,
) -> func.HttpRequest:
    """A POST /api/registrations request, signed like the Action signs it."""
    all_headers = {"content-type": content_type, "content-length": str(len(body))}
    if sign:
        all_headers |= signed_headers(body.decode("utf-8"), secret, "msg_test", timestamp)
    all_headers |= headers or {}
    return func.HttpRequest(
        "POST", "http://localhost/api/registrations", headers=all_headers, body=body
    )


class PipelineHarness:
    """In-memory publisher, table and failure log, wired into the real triggers."""

    def __init__(self) -> None:
        self.publisher = InMemoryPublisher()
        self.table = InMemoryTableStore()
        self.failures_table = InMemoryTableStore()
        self.failures = FailureLog(self.failures_table)
        self.reader = RegistrationReader(self.table)
        self.writer = RegistrationWriter(self.table)
        self.sleeps: list[float] = []
        self.ingest_service = IngestService(
            SignatureVerifier([SECRET]), self.publisher, FAST_RETRY, sleep=self.sleeps.append
        )
        self.processor = RegistrationProcessor(
            self.writer, self.failures, FAST_RETRY, sleep=self.sleeps.append
        )

    def context(self) -> AppContext:
        """An `AppContext` whose parts are this harness's in-memory ones."""
        context = AppContext(Settings(WEBHOOK_SECRET=SecretStr(SECRET)))
        context.publisher = self.publisher
        context.registration_writer = self.writer
        context.registration_reader = self.reader
        context.failure_log = self.failures
        context.ingest_service = self.ingest_service
        context.processor = self.processor
        return context

    def post(self, request: func.HttpRequest) -> func.HttpResponse:
        return user_function("ingest_registration")(request)

    def deliver(self, message: func.ServiceBusMessage) -> None:
        user_function("process_registration")(message)

    def deliver_published(self, index: int = -1, delivery_count: int = 1) -> None:
        """Hand the `index`th published message to the processor trigger."""
        self.deliver(to_function_message(self.publisher.messages[index], delivery_count))


def to_function_message(outgoing: Any, delivery_count: int = 1) -> ServiceBusMessage:
    """What the Functions host would hand the trigger for a published message."""
    return service_bus_message(
        outgoing.body.encode("utf-8"),
        message_id=outgoing.message_id,
        delivery_count=delivery_count,
        application_properties=dict(outgoing.application_properties),
        correlation_id=outgoing.correlation_id,
    )


def service_bus_message(
    body: bytes,
    *,
    message_id: str = "reg_test",
    delivery_count: int = 1,
    application_properties: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> ServiceBusMessage:
    # The concrete class the Python worker hands a Service Bus trigger.
    return ServiceBusMessage(
        body=body,
        message_id=message_id,
        delivery_count=delivery_count,
        application_properties=application_properties or {},
        correlation_id=correlation_id,
        content_type="application/json",
        enqueued_time_utc=datetime(2026, 11, 26, 4, 0, tzinfo=UTC),
        user_properties={},
    )


@pytest.fixture
def harness() -> Iterator[PipelineHarness]:
    """The real triggers over in-memory implementations of the project's interfaces."""
    harness = PipelineHarness()
    set_context(harness.context())
    yield harness
    set_context(None)
