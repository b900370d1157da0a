"""Event Streams ingest: check the bearer token, read the CloudEvent, enqueue. No azure.functions.

Every answer of POST /api/auth0-events is decided in `EventStreamService.handle`:

- AUTH0_EVENTS_TOKEN or AUTH0_TENANT_ID unusable: 503 problem with `Retry-After`
  (the cause is logged once, when the service is built);
- `Authorization: Bearer` missing or matching no configured token: 401 problem;
- not `application/json` / `application/cloudevents+json`: 415 problem;
- `user.created` / `user.deleted` (also `com.auth0.`-prefixed): 202
  `{"id": <message id>, "status": "accepted"}`;
- any other type (`user.updated`...): 200 `{"status": "ignored"}`;
- unusable (oversize, not JSON, no user id, bad time...): 202
  `{"id": "evr_...", "status": "kept", "reason": ...}`, kept with its cause;
- queue or table unreachable: 503 problem with `Retry-After` (Auth0 retries).

Auth0 counts every non-2xx answer toward disabling the stream, so only a
bad token (which operators must see in Auth0's stream health) and outages are
non-2xx. Auth0 delivers at least once and out of order: the message ids, the
broker's duplicate detection and the processor's tombstones absorb both.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from pydantic import ValidationError

from events.cloudevents import CREATED, Ignored, StreamEvent, Unusable, read_delivery
from events.payload import SOURCE, body_of, registration_payload
from ingest.service import RETRY_AFTER_SECONDS, IngestRequest, IngestResponse, answer, problem
from shared import keys
from shared.erasure import DELETION_TYPE, UserDeletion
from shared.errors import (
    InvalidEvent,
    PermanentError,
    QueueUnavailable,
    StorageUnavailable,
    UnsupportedMediaType,
)
from shared.events import EVENT_TYPE, validate_event
from shared.ids import deletion_id, registration_id
from shared.publisher import OutgoingMessage, PublishRejected, RegistrationPublisher
from shared.rejections import RejectionLog
from shared.retries import INGEST_PUBLISH_RETRY, RetryPolicy
from shared.tracing import NO_TRACER, Span, TraceContext, Tracer

MAX_DELIVERY_BYTES = 256 * 1024  # a Service Bus Standard message; Auth0 users are far smaller
MEDIA_TYPES = frozenset({"application/json", "application/cloudevents+json"})
logger = logging.getLogger("events")


class BearerTokenError(PermanentError):
    """The `Authorization: Bearer` token is missing or matches no configured token."""


class NotConfigured(PermanentError):
    """A setting the route needs is missing or unusable (named in the log, not the answer)."""


@dataclass(frozen=True)
class EventStreamService:
    """Decides every answer of the Event Streams route; the trigger only adapts types."""

    # Every accepted bearer token (the current one, and the previous during a rotation);
    # kept out of the repr so that logging the service never shows a secret.
    tokens: Sequence[str] = field(repr=False)
    tenant_id: str | None
    publisher: RegistrationPublisher
    rejections: RejectionLog
    send_fields: frozenset[str] = frozenset()
    policy: RetryPolicy = INGEST_PUBLISH_RETRY
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    tracer: Tracer = NO_TRACER

    def handle(self, request: IngestRequest, correlation_id: str) -> IngestResponse:
        """Answer one delivery (raises for 401/415/503 and the unexpected: see `problem_for`).

        An authenticated delivery is one span continuing the caller's
        `traceparent` (or starting a trace); its child around the publish is
        the parent the message carries, as ingest does.
        """
        if not self.tokens or not self.tenant_id:
            raise NotConfigured("AUTH0_EVENTS_TOKEN or AUTH0_TENANT_ID")
        self._authenticate(request.header("authorization"))
        media_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
        if media_type not in MEDIA_TYPES:
            raise UnsupportedMediaType("not application/json or application/cloudevents+json")
        parent = TraceContext.parse(request.header("traceparent"))
        with self.tracer.span("event-stream", parent) as span:
            answer = self._accept(request.body, self.tenant_id, correlation_id, span)
            span.set(status=answer.status, outcome=str(answer.body["status"]))
        return answer

    def _accept(
        self, body: bytes, tenant_id: str, correlation_id: str, span: Span
    ) -> IngestResponse:
        received_at = self.clock()
        if len(body) > MAX_DELIVERY_BYTES:
            return self._keep(body, f"body over {MAX_DELIVERY_BYTES} bytes", received_at)
        try:
            event = read_delivery(body)
            if isinstance(event, Ignored):
                return IngestResponse(200, {"status": "ignored"})
            span.set(user_id=event.user_id, tenant_id=tenant_id, event_type=event.kind)
            with self.tracer.span("event-stream.publish", span.context) as publish:
                message = self._message(event, tenant_id, correlation_id, received_at)
                message = _traced(message, publish.context)
                publish.set(message_id=message.message_id)
                self.policy.retrying(sleep=self.sleep)(self.publisher.publish, message)
        except Unusable as exc:
            return self._keep(body, str(exc), received_at)
        except InvalidEvent as exc:
            return self._keep(body, _object_fields(exc), received_at)
        except PublishRejected as exc:
            return self._keep(body, f"Service Bus refused it: {exc}", received_at)
        return IngestResponse(202, {"id": message.message_id, "status": "accepted"})

    def _authenticate(self, header: str | None) -> None:
        scheme, _, token = (header or "").strip().partition(" ")
        given = token.strip().encode("utf-8")
        # Every configured token is compared, in constant time, whatever matched.
        matched = False
        for accepted in self.tokens:
            matched |= hmac.compare_digest(given, accepted.encode("utf-8"))
        if scheme.lower() != "bearer" or not given or not matched:
            raise BearerTokenError("missing or wrong bearer token")

    def _message(
        self, event: StreamEvent, tenant_id: str, correlation_id: str, received_at: datetime
    ) -> OutgoingMessage:
        properties: dict[str, str | int] = {
            "schema_version": 1,
            "tenant": tenant_id,
            "correlation_id": correlation_id,
            "received_at": keys.iso(received_at),
            "source": SOURCE,
        }
        if event.kind == CREATED:
            document = registration_payload(event.user, tenant_id, self.send_fields)
            created_at = validate_event(document).user.created_at
            return OutgoingMessage(
                body=body_of(document),
                message_id=registration_id(tenant_id, event.user_id, created_at),
                correlation_id=correlation_id,
                application_properties=properties,
                subject=EVENT_TYPE,
            )
        try:
            deletion = UserDeletion.of(tenant_id, event.user_id, event.time, SOURCE)
        except ValidationError:
            raise Unusable("data.object.user_id is not a usable user id") from None
        return OutgoingMessage(
            body=deletion.canonical_json(),
            message_id=deletion_id(tenant_id, event.user_id, event.time),
            correlation_id=correlation_id,
            application_properties=properties,
            subject=DELETION_TYPE,
        )

    def _keep(self, body: bytes, cause: str, received_at: datetime) -> IngestResponse:
        identifier = self.rejections.keep(body, cause, received_at)
        return IngestResponse(202, {"id": identifier, "status": "kept", "reason": cause})


def _traced(message: OutgoingMessage, trace: TraceContext) -> OutgoingMessage:
    """The message carrying `trace` as `traceparent` and `Diagnostic-Id` (what the SDKs read)."""
    properties = {
        **message.application_properties,
        "traceparent": trace.traceparent,
        "Diagnostic-Id": trace.traceparent,
    }
    return replace(message, application_properties=properties)


def _object_fields(exc: InvalidEvent) -> str:
    """The validator's field paths in the delivery's terms (`user.x` is `data.object.x`)."""
    parts = []
    for path, reason in exc.errors:
        name = "data.object." + path.removeprefix("user.") if path.startswith("user") else path
        parts.append(f"{name}: {reason}")
    return "; ".join(parts)


def respond(service: Callable[[], EventStreamService], request: IngestRequest) -> IngestResponse:
    """Answer one delivery: `problem_for` answers what the service raises."""
    return answer(service, request, logger=logger, event="event-stream", failure_answer=problem_for)


def problem_for(exc: Exception, correlation_id: str) -> tuple[IngestResponse, str | None]:
    """The answer to a delivery the service raised for, and the error type for its log line."""
    if isinstance(exc, BearerTokenError):
        response = problem(401, "Missing or wrong bearer token", correlation_id)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response, None
    if isinstance(exc, UnsupportedMediaType):
        title = "Unsupported media type: send application/json or application/cloudevents+json"
        return problem(415, title, correlation_id), None
    if isinstance(exc, NotConfigured | QueueUnavailable | StorageUnavailable):
        title = "Service not configured" if isinstance(exc, NotConfigured) else "Unavailable"
        response = problem(503, f"{title}, retry later", correlation_id)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response, type(exc).__name__
    logger.exception("event stream delivery failed (correlation_id=%s)", correlation_id)
    return problem(500, "Internal error", correlation_id), type(exc).__name__
