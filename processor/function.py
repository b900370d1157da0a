"""Service Bus trigger on REGISTRATIONS_QUEUE. Return completes the message; raise abandons it."""

from __future__ import annotations

import azure.functions as func

from processor.service import IncomingMessage
from shared.runtime import get_context

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.service_bus_queue_trigger(
    arg_name="msg", queue_name="%REGISTRATIONS_QUEUE%", connection="ServiceBusConnection"
)
def process_registration(msg: func.ServiceBusMessage) -> None:
    """Write the registration idempotently; any exception propagates to the host (abandon)."""
    message = IncomingMessage(
        body=msg.get_body(),
        message_id=msg.message_id or "",
        delivery_count=msg.delivery_count or 1,
        application_properties=msg.application_properties or {},
        correlation_id=msg.correlation_id,
        enqueued_time=msg.enqueued_time_utc,
    )
    get_context().processor.process(message)
