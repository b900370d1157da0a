"""Ingest: verify, validate and enqueue one signed registration. Knows nothing of azure.functions.

Every row of the ingest table in docs/pipeline.md is decided in `IngestService.handle`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from shared import keys
from shared.errors import (
    InvalidEvent,
    Misconfigured,
    PayloadTooLarge,
    QueueUnavailable,
    SignatureError,
    UnsupportedMediaType,
)
from shared.events import EVENT_TYPE, RegistrationEvent, parse_event
from shared.ids import correlation_id_from_headers, new_correlation_id, registration_id
from shared.log import log_outcome
from shared.publisher import OutgoingMessage, RegistrationPublisher
from shared.retries import INGEST_PUBLISH_RETRY, RetryPolicy
from shared.settings import SettingsError
from shared.signing import Verifier
from shared.tracing import NO_TRACER, TraceContext, Tracer

MAX_BODY_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = 5
PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("ingest")


@dataclass(frozen=True)
class IngestRequest:
    """What ingest needs of an HTTP request; header names are matched case-insensitively."""

    body: bytes
    headers: Mapping[str, str]

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass(frozen=True)
class IngestResponse:
    """Status, JSON body and headers for the HTTP adapter."""

    status: int
    body: dict[str, object]
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def body_bytes(self) -> bytes:
        # ASCII with \u escapes: encodable whatever a reason holds (a lone surrogate too).
        return json.dumps(self.body, ensure_ascii=True).encode("ascii")


def problem(status: int, title: str, correlation_id: str, **extra: object) -> IngestResponse:
    """An RFC 9457 problem response carrying the correlation id."""
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    body.update(extra)
    body["correlation_id"] = correlation_id
    return IngestResponse(status, body, PROBLEM_JSON)


def content_length_too_large(value: str | None) -> bool:
    """True when a Content-Length header announces more than the limit."""
    try:
        return value is not None and int(value.strip()) > MAX_BODY_BYTES
    except ValueError:
        return False  # a malformed header is not a size claim; the real length is checked next


def is_json(content_type: str | None) -> bool:
    """`application/json`, any case, parameters (charset) allowed."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json"


def build_message(
    event: RegistrationEvent,
    correlation_id: str,
    received_at: datetime,
    trace: TraceContext | None = None,
) -> OutgoingMessage:
    """The Service Bus message for a validated event (docs/pipeline.md: the message).

    With `trace`, the message carries it as `traceparent` and `Diagnostic-Id`.
    """
    properties: dict[str, str | int] = {
        "schema_version": event.schema_version,
        "tenant": event.tenant_id,
        "correlation_id": correlation_id,
        "received_at": keys.iso(received_at),
    }
    if trace is not None:
        properties |= {"traceparent": trace.traceparent, "Diagnostic-Id": trace.traceparent}
    return OutgoingMessage(
        body=event.canonical_json(),
        message_id=registration_id(event.tenant_id, event.user_id, event.user.created_at),
        correlation_id=correlation_id,
        subject=EVENT_TYPE,
        application_properties=properties,
    )


class IngestService:
    """Decides every ingest answer; the HTTP trigger only adapts types."""

    def __init__(
        self,
        verifier: Verifier,
        publisher: RegistrationPublisher,
        policy: RetryPolicy = INGEST_PUBLISH_RETRY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        tracer: Tracer = NO_TRACER,
    ) -> None:
        self._verifier = verifier
        self._publisher = publisher
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._tracer = tracer

    def handle(self, request: IngestRequest, correlation_id: str) -> IngestResponse:
        """Answer one request (raises only for the unexpected: the caller answers 500).

        One span continues the caller's `traceparent` (or starts a trace); its
        child around the publish is the parent the message carries.
        """
        parent = TraceContext.parse(request.header("traceparent"))
        with self._tracer.span("ingest", parent) as span:
            event = self._accept(request)
            span.set(user_id=event.user_id, tenant_id=event.tenant_id, source=event.origin)
            with self._tracer.span("ingest.publish", span.context) as publish:
                message = build_message(event, correlation_id, self._clock(), publish.context)
                publish.set(message_id=message.message_id)
                self._policy.retrying(sleep=self._sleep)(self._publisher.publish, message)
            span.set(message_id=message.message_id, status=202)
        return IngestResponse(202, {"id": message.message_id, "status": "accepted"})

    def _accept(self, request: IngestRequest) -> RegistrationEvent:
        """Size, media type, signature, then schema: the checks in that order."""
        if content_length_too_large(request.header("content-length")):
            raise PayloadTooLarge("Content-Length over the limit")
        if len(request.body) > MAX_BODY_BYTES:
            raise PayloadTooLarge("body over the limit")
        if not is_json(request.header("content-type")):
            raise UnsupportedMediaType("not application/json")
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEvent([("body", "is not UTF-8 text")]) from None
        self._verifier.verify(text, request.headers)
        return parse_event(text)


class RequestHandler(Protocol):
    """A role's service behind an HTTP route: decides the answer, raises for the rest."""

    def handle(self, request: IngestRequest, correlation_id: str) -> IngestResponse: ...


FailureAnswer = Callable[[Exception, str], tuple[IngestResponse, str | None]]


def answer(
    service: Callable[[], RequestHandler],
    request: IngestRequest,
    *,
    logger: logging.Logger,
    event: str,
    failure_answer: FailureAnswer,
    logged_once: frozenset[str] = frozenset(),
) -> IngestResponse:
    """Run a route's service and answer every outcome, logging one line per request.

    The frame both HTTP routes share: the caller's correlation id (or a new one)
    on every answer as `x-correlation-id`; `failure_answer` turns whatever the
    service raises (building it too) into the answer and the error type to log;
    one `event` line says how it went, at ERROR for a 5xx unless its error type
    is in `logged_once` (a cause already logged as an error where it was found:
    then WARNING, so the log does not repeat that error per request).
    """
    started = time.monotonic()
    correlation_id = correlation_id_from_headers(dict(request.headers)) or new_correlation_id()
    error_type = None
    try:
        response = service().handle(request, correlation_id)
    except Exception as exc:
        response, error_type = failure_answer(exc, correlation_id)
    response.headers["x-correlation-id"] = correlation_id
    status = response.status
    serious = status >= 500 and error_type not in logged_once
    log_outcome(
        logger,
        event,
        level=logging.ERROR if serious else logging.INFO if status < 500 else logging.WARNING,
        status=status,
        outcome=str(response.body["status"]) if status < 300 else "rejected",
        message_id=response.body.get("id"),
        correlation_id=correlation_id,
        error_type=error_type,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )
    return response


def respond(service: Callable[[], IngestService], request: IngestRequest) -> IngestResponse:
    """Answer one signed registration: `problem_for` answers every failure."""
    return answer(
        service,
        request,
        logger=logger,
        event="ingest",
        failure_answer=problem_for,
        logged_once=_CONFIGURATION_ERRORS,
    )


# A misconfigured secret is logged once, as an error, where it is read.
_CONFIGURATION_ERRORS = frozenset({"Misconfigured", "SettingsError"})


def problem_for(exc: Exception, correlation_id: str) -> tuple[IngestResponse, str | None]:
    """The answer to a failed request, and the error type for its log line."""
    if isinstance(exc, PayloadTooLarge):
        return problem(413, "Payload too large", correlation_id, max_bytes=MAX_BODY_BYTES), None
    if isinstance(exc, UnsupportedMediaType):
        return problem(415, "Unsupported media type: send application/json", correlation_id), None
    if isinstance(exc, SignatureError):
        return problem(401, "Invalid webhook signature", correlation_id, detail=str(exc)), None
    if isinstance(exc, InvalidEvent):
        invalid = [{"field": name, "reason": reason} for name, reason in exc.errors]
        title = "Invalid registration event"
        response = problem(400, title, correlation_id, detail=str(exc), errors=invalid)
        return response, type(exc).__name__
    if isinstance(exc, QueueUnavailable | Misconfigured | SettingsError):
        unavailable = isinstance(exc, QueueUnavailable)
        title = "Queue unavailable" if unavailable else "Service not configured"
        # A configuration problem answers like an outage and names nothing (no secret detail).
        response = problem(503, f"{title}, retry later", correlation_id)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response, f"{type(exc).__name__}: {exc}" if unavailable else type(exc).__name__
    logger.exception("ingest failed unexpectedly (correlation_id=%s)", correlation_id)
    return problem(500, "Internal error", correlation_id), type(exc).__name__
