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
│   └── StorageRejected          the table refused the entity (4xx): it never will accept it
└── StorageConflict              a conditional write lost a race: re-read and decide again
    ├── EntityExists             insert-if-absent found an entity
    └── ETagMismatch             If-Match failed: someone wrote in between
```

Messages never contain personal data: `InvalidEvent` carries a field path
and a reason, never the offending value.
"""

from __future__ import annotations


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


class StorageConflict(PipelineError):
    """A conditional write lost a race; the caller re-reads and decides again."""


class EntityExists(StorageConflict):
    """Insert-if-absent found an existing entity."""


class ETagMismatch(StorageConflict):
    """The entity changed since it was read (If-Match failed)."""
