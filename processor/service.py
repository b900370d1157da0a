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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import tenacity

from shared.errors import PermanentError
from shared.events import RegistrationEvent, parse_event
from shared.failures import FailureLog, ProcessingFailure
from shared.ids import new_correlation_id
from shared.log import log_outcome
from shared.registrations import Registration
from shared.retries import PROCESSOR_TABLE_RETRY, RetryPolicy
from shared.writes import RegistrationWriter, WriteOutcome

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


class RegistrationProcessor:
    """Turns one message into at most one table write, or a recorded failure and a raise."""

    def __init__(
        self,
        writer: RegistrationWriter,
        failures: FailureLog,
        policy: RetryPolicy = PROCESSOR_TABLE_RETRY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._writer = writer
        self._failures = failures
        self._policy = policy
        self._clock = clock
        self._sleep = sleep

    def process(self, message: IncomingMessage) -> WriteOutcome:
        """Process one delivery; raises to make the host abandon it."""
        started = time.monotonic()
        correlation_id = message.correlation()
        fields: dict[str, Any] = {
            "message_id": message.message_id,
            "delivery_count": message.delivery_count,
            "correlation_id": correlation_id,
        }
        event: RegistrationEvent | None = None
        try:
            event = parse_event(message.body)
            registration = Registration.from_event(
                event,
                message_id=message.message_id,
                correlation_id=correlation_id,
                received_at=message.received_at(self._clock()),
                processed_at=self._clock(),
                delivery_count=message.delivery_count,
            )
            outcome = self._save(registration, fields)
        except Exception as exc:
            permanent = isinstance(exc, PermanentError)
            self._record(message, event, correlation_id, exc, permanent=permanent)
            log_outcome(
                logger,
                "process",
                level=logging.ERROR if permanent else logging.WARNING,
                outcome="failed-permanent" if permanent else "failed-transient",
                error_type=type(exc).__name__,
                error=str(exc),
                duration_ms=_ms(started),
                **fields,
            )
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

    def _record(
        self,
        message: IncomingMessage,
        event: RegistrationEvent | None,
        correlation_id: str,
        exc: Exception,
        *,
        permanent: bool,
    ) -> None:
        failure = ProcessingFailure(
            message_id=message.message_id,
            user_id=event.user_id if event else None,
            tenant_id=event.tenant_id if event else None,
            delivery_count=message.delivery_count,
            error_type=type(exc).__name__,
            error_message=str(exc),
            permanent=permanent,
            correlation_id=correlation_id,
            failed_at=self._clock(),
        )
        try:
            self._failures.record(failure)
        except Exception as record_error:  # never mask the real error, never complete
            log_outcome(
                logger,
                "failure-log",
                level=logging.ERROR,
                outcome="not-recorded",
                message_id=message.message_id,
                correlation_id=correlation_id,
                error_type=type(record_error).__name__,
            )

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


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
