"""Building the Event Streams service from settings; a bad setting is logged once, here."""

from __future__ import annotations

import logging
from typing import Protocol

from events.service import EventStreamService
from shared.log import log_outcome
from shared.publisher import RegistrationPublisher
from shared.rejections import RejectionLog
from shared.secrets import check_secrets
from shared.send_fields import parse_send_fields
from shared.settings import Settings, SettingsError
from shared.tracing import Tracer

logger = logging.getLogger("events")


class EventsParts(Protocol):
    """What the service is built from (`shared.runtime.AppContext` has all of it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def publisher(self) -> RegistrationPublisher: ...
    @property
    def tracer(self) -> Tracer: ...
    @property
    def rejections(self) -> RejectionLog: ...


def build_event_stream_service(parts: EventsParts) -> EventStreamService:
    """The service; with an unusable token or no tenant it answers 503 to every delivery."""
    settings = parts.settings
    try:
        tokens = check_secrets("AUTH0_EVENTS_TOKEN", settings.auth0_events_token)
    except SettingsError as exc:
        _configuration_error("AUTH0_EVENTS_TOKEN", str(exc))
        tokens = []
    tenant_id = (settings.auth0_tenant_id or "").strip() or None
    if tenant_id is None:
        _configuration_error("AUTH0_TENANT_ID", "AUTH0_TENANT_ID is not set")
    send_fields = parse_send_fields(settings.send_fields)
    if send_fields.unknown:  # as the Action does: warn, send the fields it does know
        log_outcome(
            logger, "configuration", level=logging.WARNING, outcome="ignored",
            setting="SEND_FIELDS", error=f"unknown names: {', '.join(send_fields.unknown)}",
        )  # fmt: skip
    return EventStreamService(
        tokens,
        tenant_id,
        parts.publisher,
        parts.rejections,
        send_fields.fields,
        tracer=parts.tracer,
    )


def _configuration_error(setting: str, reason: str) -> None:
    log_outcome(
        logger, "configuration", level=logging.ERROR, outcome="invalid",
        setting=setting, error=reason,
    )  # fmt: skip
