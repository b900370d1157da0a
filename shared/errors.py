"""Errors that say what to do next. SDK exceptions are converted at the boundary.

```
PipelineError
├── TransientError               retry in process (tenacity), then let the broker redeliver
│   ├── StorageUnavailable       table throttled (429/503), 5xx, timeout, connection reset
│   └── QueueUnavailable         Service Bus unreachable or busy (ingest answers 503)
├── PermanentError               never retry: ingest answers 4xx, the processor dead-letters
│   ├── InvalidEvent             unparseable body or schema violation (names the field)
│   │   └── UnsupportedSchemaVersion   newer schema_version than this code knows
│   ├── SignatureError           missing, bad or stale Standard Webhooks signature (401)
│   ├── PayloadTooLarge          body over the ingest limit (413)
│   ├── UnsupportedMediaType     not application/json (415)
│   ├── StorageRejected          the table refused the entity (4xx): it never will accept it
│   └── PublishRejected          Service Bus refused the message (size, missing queue, auth)
├── Misconfigured                a required setting is unusable: answer 503, fix the setting
└── StorageConflict              a conditional write lost a race: re-read and decide again
    ├── EntityExists             insert-if-absent found an entity
    └── ETagMismatch             If-Match failed: someone wrote in between
```

Messages never contain personal data: `InvalidEvent` carries a field path
and a reason, never the offending value.

SDK exceptions become these types in one place: `map_exceptions` with the
tables `TABLE_ERRORS` (azure-core, Table Storage) and `SERVICE_BUS_ERRORS`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.servicebus.exceptions import (
    MessageSizeExceededError,
    MessagingEntityDisabledError,
    MessagingEntityNotFoundError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
)


class PipelineError(Exception):
    """Base of every error this project raises on purpose."""


class TransientError(PipelineError):
    """Worth retrying: the same call may succeed later."""


class StorageUnavailable(TransientError):
    """Table Storage is throttling, failing (5xx) or unreachable."""


class QueueUnavailable(TransientError):
    """Service Bus is unreachable or busy."""


class PermanentError(PipelineError):
    """Retrying cannot help: the input or the request is wrong."""


class InvalidEvent(PermanentError):
    """The body is not a valid `RegistrationEvent`. `errors` lists (field, reason)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in errors))


class UnsupportedSchemaVersion(InvalidEvent):
    """`schema_version` is newer than this code understands."""

    def __init__(self, version: int, supported: int) -> None:
        self.version = version
        self.supported = supported
        super().__init__(
            [
                (
                    "schema_version",
                    f"version {version} is newer than this service understands "
                    f"(it supports up to {supported}); upgrade the pipeline before sending it",
                )
            ]
        )


class SignatureError(PermanentError):
    """The Standard Webhooks signature is missing, wrong or outside the tolerance."""


class PayloadTooLarge(PermanentError):
    """The request body is larger than ingest accepts."""


class UnsupportedMediaType(PermanentError):
    """The request is not `application/json`."""


class StorageRejected(PermanentError):
    """Table Storage refused the request with a 4xx that retrying cannot fix."""


class Misconfigured(PipelineError):
    """A setting the call needs is missing or unusable (the message names the setting only)."""


class StorageConflict(PipelineError):
    """A conditional write lost a race; the caller re-reads and decides again."""


class EntityExists(StorageConflict):
    """Insert-if-absent found an existing entity."""


class ETagMismatch(StorageConflict):
    """The entity changed since it was read (If-Match failed)."""


class PublishRejected(PermanentError):
    """Service Bus refused the message for a reason retrying cannot fix (config, size)."""


# A mapping value is the project's exception class (built from a short description of
# the SDK error, never its payload) or a function choosing one from the SDK error.
Conversion = type[Exception] | Callable[[Exception], Exception]
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def describe(exc: BaseException) -> str:
    """`TypeName: message` of an SDK error (azure-core messages carry no request bodies)."""
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _table_status(exc: Exception) -> Exception:
    status = getattr(exc, "status_code", None) or 0
    reason = f"table service answered {status} {getattr(exc, 'reason', None) or ''}".strip()
    if status == 412:
        return ETagMismatch(reason)
    if status in TRANSIENT_STATUS or status == 0:
        return StorageUnavailable(reason)
    return StorageRejected(reason)


TABLE_ERRORS: Mapping[type[Exception], Conversion] = {
    ResourceExistsError: EntityExists,
    ResourceModifiedError: ETagMismatch,
    ServiceRequestError: StorageUnavailable,  # refused, reset, DNS, connect timeout
    ServiceResponseError: StorageUnavailable,  # read timeout, broken response
    HttpResponseError: _table_status,
    AzureError: StorageUnavailable,
}

SERVICE_BUS_ERRORS: Mapping[type[Exception], Conversion] = {
    MessageSizeExceededError: PublishRejected,
    MessagingEntityNotFoundError: PublishRejected,
    MessagingEntityDisabledError: PublishRejected,
    ServiceBusAuthenticationError: PublishRejected,
    ServiceBusAuthorizationError: PublishRejected,
    AzureError: QueueUnavailable,
    OSError: QueueUnavailable,
}


def convert(exc: Exception, mapping: Mapping[type[Exception], Conversion]) -> Exception | None:
    """The project's exception for `exc` under `mapping`, or None when nothing matches.

    The most specific matching class wins (like httpx's `map_exceptions`), so
    `ResourceExistsError` beats its base `HttpResponseError` whatever the order.
    """
    # The nearest class in the error's MRO is the most specific match.
    best = next((kind for kind in type(exc).__mro__ if kind in mapping), None)
    if best is None:
        return None
    target = mapping[best]
    converted: Exception = target(describe(exc)) if isinstance(target, type) else target(exc)
    return converted


@contextlib.contextmanager
def map_exceptions(mapping: Mapping[type[Exception], Conversion]) -> Iterator[None]:
    """Re-raise an exception matched by `mapping` as the project's type (`raise ... from`)."""
    try:
        yield
    except Exception as exc:
        converted = convert(exc, mapping)
        if converted is None:
            raise
        raise converted from exc
