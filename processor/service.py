"""Processing one registration message. Knows nothing of azure.functions.

Outcomes (GA bindings: return = complete, raise = abandon -> redelivery ->
dead-letter after MaxDeliveryCount):

- created / updated / unchanged / stale: the table holds the newest version; return.
- permanent error (unparseable, schema violation, unknown schema_version):
  no retry; the cause goes to the FailureLog, then raise (-> DLQ after 10 deliveries).
- transient error (throttling, 5xx, timeout, reset), also while a store creates its
  table on first use (that happens inside the write): tenacity within the delivery;
  when the budget is spent, record the last error and raise (-> redelivery).
- anything else: record it and raise. Nothing is ever swallowed into a completion.

The body's `type` decides the path: "user.registered" is handled here,
"user.deleted" by the `deletions` handler (`processor.deletions`), with the
same rules. Each delivery is a span in the trace the message carries
(`traceparent`), and the row stores that trace's id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import tenacity

from shared.errors import InvalidEvent, PermanentError
from shared.events import RegistrationEvent, load_json, validate_event
from shared.failures import FailureLog, ProcessingFailure
from shared.ids import new_correlation_id
from shared.log import log_outcome
from shared.registrations import Registration
from shared.retries import PROCESSOR_TABLE_RETRY, RetryPolicy
from shared.tracing import NO_TRACER, TraceContext, Tracer
from shared.writes import RegistrationWriter, WriteOutcome

DELETION_TYPE = "user.deleted"

logger = logging.getLogger("processor")


@dataclass(frozen=True)
class IncomingMessage:
    """What the processor needs of a received Service Bus message."""

    body: bytes
    message_id: str
    delivery_count: int
    application_properties: Mapping[str, Any] = field(default_factory=dict)
    correlation_id: str | None = None  # the broker-level CorrelationId
    enqueued_time: datetime | None = None

    def property(self, name: str) -> object:
        """An application property; AMQP may hand keys over as bytes."""
        for key, value in self.application_properties.items():
            if (key.decode("utf-8", "replace") if isinstance(key, bytes) else key) == name:
                return value
        return None

    def trace_parent(self) -> TraceContext | None:
        """The trace the message travels in (`traceparent`, else `Diagnostic-Id`)."""
        return TraceContext.parse(self.property("traceparent")) or TraceContext.parse(
            self.property("Diagnostic-Id")
        )

    def correlation(self) -> str:
        """The event's correlation id: the property ingest set, else the system one."""
        value = self.property("correlation_id") or self.correlation_id
        return _text(value) or f"generated-{new_correlation_id()}"

    def received_at(self, now: datetime) -> datetime:
        """When ingest accepted the event (property), else the enqueue time, else now."""
        value = _text(self.property("received_at"))
        if value:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
        return (self.enqueued_time or now).astimezone(UTC)


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None if value is None else str(value)


class DeletionHandler(Protocol):
    """Handles a "user.deleted" delivery (records its own failures; raises to abandon)."""

    def process(self, message: IncomingMessage) -> object: ...


class RegistrationProcessor:
    """Turns one message into at most one table write, or a recorded failure and a raise."""

    def __init__(
        self,
        writer: RegistrationWriter,
        failures: FailureLog,
        policy: RetryPolicy = PROCESSOR_TABLE_RETRY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        *,
        deletions: Callable[[], DeletionHandler] | None = None,
        tracer: Tracer = NO_TRACER,
    ) -> None:
        self._writer = writer
        self._failures = failures
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        # Built on first use (it needs clients creations do not). Without one, a deletion
        # fails validation like any unknown type: recorded, then dead-lettered.
        self._deletions = deletions
        self._tracer = tracer

    def process(self, message: IncomingMessage) -> WriteOutcome | None:
        """Process one delivery (None for a deletion); raises to make the host abandon it."""
        document = _decode(message.body)  # parsed once: the type picks the path
        kind = document.get("type") if isinstance(document, dict) else None
        deletions = self._deletions if kind == DELETION_TYPE else None
        name = "processor.delete" if deletions else "processor"
        with self._tracer.span(name, message.trace_parent(), message_id=message.message_id) as span:
            span.set(delivery_count=message.delivery_count)
            if deletions is not None:
                deletions().process(message)
                return None
            outcome = self._register(message, document, span.context.trace_id)
            span.set(outcome=outcome.value)
            return outcome

    def _register(self, message: IncomingMessage, document: object, trace_id: str) -> WriteOutcome:
        started = time.monotonic()
        correlation_id = message.correlation()
        fields: dict[str, Any] = {
            "message_id": message.message_id,
            "delivery_count": message.delivery_count,
            "correlation_id": correlation_id,
        }
        event: RegistrationEvent | None = None
        try:
            if isinstance(document, InvalidEvent):
                raise document
            event = validate_event(document)
            registration = Registration.from_event(
                event,
                message_id=message.message_id,
                correlation_id=correlation_id,
                received_at=message.received_at(self._clock()),
                processed_at=self._clock(),
                delivery_count=message.delivery_count,
                trace_id=trace_id,
            )
            outcome = self._save(registration, fields)
        except Exception as exc:
            permanent = isinstance(exc, PermanentError)
            record_failure(
                self._failures, message, exc, permanent=permanent, correlation_id=correlation_id,
                tenant_id=event.tenant_id if event else None,
                user_id=event.user_id if event else None, failed_at=self._clock(),
            )  # fmt: skip
            log_outcome(
                logger, "process", level=logging.ERROR if permanent else logging.WARNING,
                outcome="failed-permanent" if permanent else "failed-transient",
                error_type=type(exc).__name__, error=str(exc), duration_ms=_ms(started), **fields,
            )  # fmt: skip
            raise
        if message.delivery_count > 1:
            self._forget_failure(message.message_id, fields)
        log_outcome(logger, "process", outcome=outcome.value, duration_ms=_ms(started), **fields)
        return outcome

    def _save(self, registration: Registration, fields: dict[str, Any]) -> WriteOutcome:
        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log_outcome(
                logger,
                "process-retry",
                level=logging.WARNING,
                outcome="retrying",
                attempt=state.attempt_number,
                error_type=type(error).__name__,
                error=str(error),
                **fields,
            )

        retrying = self._policy.retrying(sleep=self._sleep, before_sleep=before_sleep)
        outcome: WriteOutcome = retrying(self._writer.save, registration)
        return outcome

    def _forget_failure(self, message_id: str, fields: dict[str, Any]) -> None:
        # The write succeeded: a stale failure record is only noise, so a failed clean-up
        # is logged and the message completes (it *was* processed).
        try:
            self._failures.clear(message_id)
        except Exception as exc:
            log_outcome(
                logger, "failure-log", level=logging.WARNING, outcome="not-cleared",
                error_type=type(exc).__name__, **fields,
            )  # fmt: skip


def record_failure(
    failures: FailureLog,
    message: IncomingMessage,
    exc: Exception,
    *,
    permanent: bool,
    correlation_id: str,
    tenant_id: str | None,
    user_id: str | None,
    failed_at: datetime,
) -> None:
    """Record why `message` failed (ids None when the body could not be parsed).

    A failure to record is logged, never raised: it must not mask the real error.
    """
    failure = ProcessingFailure(
        message_id=message.message_id,
        user_id=user_id,
        tenant_id=tenant_id,
        delivery_count=message.delivery_count,
        error_type=type(exc).__name__,
        error_message=str(exc),
        permanent=permanent,
        correlation_id=correlation_id,
        failed_at=failed_at,
    )
    try:
        failures.record(failure)
    except Exception as record_error:
        log_outcome(
            logger,
            "failure-log",
            level=logging.ERROR,
            outcome="not-recorded",
            message_id=message.message_id,
            correlation_id=correlation_id,
            error_type=type(record_error).__name__,
        )


def _decode(body: bytes) -> object:
    """The body as JSON, or the `InvalidEvent` saying why not (raised later, and recorded)."""
    try:
        return load_json(body.decode("utf-8"))
    except UnicodeDecodeError:
        return InvalidEvent([("body", "is not UTF-8 text")])
    except InvalidEvent as exc:
        return exc


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
