"""Signed POSTs to the ingest endpoint, as the Auth0 Action sends them (smoke, send-test-event).

Like the Action, every POST starts a trace of its own: a W3C `traceparent`
(version 00, sampled) with a fresh trace id, which ingest continues onto the
message and the processor stores as the row's `trace_id`. The answer carries
that trace id, so `ops trace <trace id>` shows the event's whole path.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ops.errors import OpsError, ServiceUnreachable, UsageProblem, one_line
from shared.events import canonical_json
from shared.ids import registration_id
from shared.signing import signed_headers
from shared.tracing import TraceContext

DEFAULT_INGEST_URL = "http://127.0.0.1:7071/api/registrations"


@dataclass(frozen=True)
class IngestAnswer:
    """What ingest answered to one signed event."""

    status: int
    body: dict[str, Any]
    trace_id: str | None = None  # the trace the POST started (its `traceparent`)

    @property
    def accepted(self) -> bool:
        """202: the event is on the queue."""
        return self.status == 202


class EventPoster(Protocol):
    """Sends one signed event; the real one speaks HTTP, unit tests use an in-memory one."""

    def post(self, event: dict[str, Any]) -> IngestAnswer:
        """POST the event, signed, and return the answer."""
        ...


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx stays an answer: following it would send the function key to another host."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_RefuseRedirects)


def require_safe_url(url: str) -> str:
    """The URL when it is https, or http to a loopback host; UsageProblem otherwise."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and is_loopback(host):
        return url
    raise UsageProblem(
        f"refusing {parts.scheme or 'no'} scheme for {host or url!r}: use https"
        " (plain http only for 127.0.0.1, ::1 or localhost)"
    )


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpEventPoster:
    """POSTs events to an ingest URL with the function key and Standard Webhooks headers.

    Redirects are refused (an error naming the Location's host) and the URL
    must be https unless its host is loopback: the key and the signature go
    only where the operator pointed.
    """

    def __init__(self, url: str, secret: str, function_key: str, timeout: float = 10.0) -> None:
        if not secret:
            raise OpsError("WEBHOOK_SECRET is empty: set it in the settings to sign events")
        self.url = require_safe_url(url)
        self.secret = secret
        self.function_key = function_key
        self.timeout = timeout

    def post(self, event: dict[str, Any]) -> IngestAnswer:
        """POST one event; HTTP error statuses are answers, not exceptions."""
        body = canonical_json(event)
        webhook_id = webhook_id_for(event)
        trace = TraceContext.root()  # a fresh, sampled trace per event, as the Action does
        headers = {
            "content-type": "application/json",
            "traceparent": trace.traceparent,
            **signed_headers(body, self.secret, webhook_id),
        }
        if self.function_key:
            headers["x-functions-key"] = self.function_key
        request = urllib.request.Request(  # noqa: S310 - the operator chooses the URL
            self.url, data=body.encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                return IngestAnswer(response.status, _json(response.read()), trace.trace_id)
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                raise _redirect_error(self.url, exc) from None
            return IngestAnswer(exc.code, _json(exc.read()), trace.trace_id)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServiceUnreachable(
                f"ingest endpoint unreachable ({self.url}): {one_line(str(reason))}"
            ) from exc


def _redirect_error(url: str, answer: urllib.error.HTTPError) -> OpsError:
    location = answer.headers.get("Location") or ""
    target = urllib.parse.urlsplit(urllib.parse.urljoin(url, location)).hostname or "?"
    return OpsError(
        f"ingest answered {answer.code} redirecting to host {target}: not followed"
        " (the key and signature stay here); use the final URL with --url"
    )


def webhook_id_for(event: dict[str, Any]) -> str:
    """The Action's `webhook-id`: the registration id, or a random one for a malformed event."""
    tenant, user = event.get("tenant"), event.get("user")
    tenant_id = tenant.get("id") if isinstance(tenant, dict) else None
    user_id = user.get("user_id") if isinstance(user, dict) else None
    created_at = user.get("created_at") if isinstance(user, dict) else None
    if isinstance(tenant_id, str) and isinstance(user_id, str) and isinstance(created_at, str):
        try:
            return registration_id(tenant_id, user_id, created_at)
        except ValueError:
            pass  # a malformed time: ingest will answer 400, the id just has to be unique
    return f"msg_{uuid.uuid4().hex}"


def _json(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        return {"raw": raw.decode("utf-8", "replace")[:200]}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def synthetic_event(tenant_id: str, user_id: str, now: datetime | None = None) -> dict[str, Any]:
    """A valid v1 event with no real personal data (example.invalid address, no phone)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    token = uuid.uuid4().hex[:12]
    return {
        "type": "user.registered",
        "schema_version": 1,
        "tenant": {"id": tenant_id},
        "connection": {
            "id": "con_synthetic",
            "name": "Username-Password-Authentication",
            "strategy": "auth0",
        },
        "user": {
            "user_id": user_id,
            "email": f"signup-{token}@example.invalid",
            "email_verified": False,
            "phone_number": None,
            "name": f"signup-{token}",
            "nickname": f"signup-{token}",
            "created_at": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "user_metadata": {},
            "app_metadata": {},
        },
        "request": {"ip": "192.0.2.1", "language": "en", "hostname": "ops.invalid"},
    }
