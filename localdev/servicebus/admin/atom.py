"""The management API's ATOM documents: a queue's entry, a feed of queues, an error.

The element names, namespaces and order are those of the Service Bus REST API
(api-version 2021-05) as `azure.servicebus.management` deserialises them:
`QueueDescription` in the `servicebus/connect` namespace, the counts in
`CountDetails` with the `d2p1` prefix of the 2011/06 namespace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape

from localdev.servicebus.broker.runtime import QueueRuntime

ATOM = "http://www.w3.org/2005/Atom"
CONNECT = "http://schemas.microsoft.com/netservices/2010/10/servicebus/connect"
COUNTS = "http://schemas.microsoft.com/netservices/2011/06/servicebus"
INSTANCE = "http://www.w3.org/2001/XMLSchema-instance"
NAMESPACE_NAME = "sbemulatorns"
MAX_SIZE_MB = 1024  # Standard tier default
FOREVER = "P10675199DT2H48M5.4775807S"  # TimeSpan.MaxValue: AutoDeleteOnIdle is off


def iso_time(epoch_seconds: float) -> str:
    """A UTC timestamp as the REST API writes it: `2026-11-29T16:00:00.123Z`."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_duration(seconds: float) -> str:
    """Seconds as an ISO-8601 duration: 60 -> `PT1M`, 1209600 -> `P14D`, 0.5 -> `PT0.5S`."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    date = f"{int(days)}D" if days else ""
    clock = "".join(
        f"{value}{unit}"
        for value, unit in ((int(hours), "H"), (int(minutes), "M"), (_number(secs), "S"))
        if value
    )
    text = "P" + date + ("T" + clock if clock else "")
    return text if text != "P" else "PT0S"


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 7)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def queue_description(runtime: QueueRuntime) -> str:
    """The `QueueDescription` element: settings, counts, size and times."""
    s = runtime.settings
    return (
        f'<QueueDescription xmlns="{CONNECT}" xmlns:i="{INSTANCE}">'
        f"<LockDuration>{iso_duration(s.lock_duration)}</LockDuration>"
        f"<MaxSizeInMegabytes>{MAX_SIZE_MB}</MaxSizeInMegabytes>"
        f"<RequiresDuplicateDetection>{_bool(s.requires_duplicate_detection)}"
        "</RequiresDuplicateDetection>"
        "<RequiresSession>false</RequiresSession>"
        f"<DefaultMessageTimeToLive>{iso_duration(s.default_ttl)}</DefaultMessageTimeToLive>"
        f"<DeadLetteringOnMessageExpiration>{_bool(s.dead_lettering_on_expiration)}"
        "</DeadLetteringOnMessageExpiration>"
        f"<DuplicateDetectionHistoryTimeWindow>{iso_duration(s.duplicate_window)}"
        "</DuplicateDetectionHistoryTimeWindow>"
        f"<MaxDeliveryCount>{s.max_delivery_count}</MaxDeliveryCount>"
        "<EnableBatchedOperations>true</EnableBatchedOperations>"
        f"<SizeInBytes>{runtime.size_in_bytes}</SizeInBytes>"
        f"<MessageCount>{runtime.total}</MessageCount>"
        "<IsAnonymousAccessible>false</IsAnonymousAccessible>"
        "<AuthorizationRules/>"
        "<Status>Active</Status>"
        f"<CreatedAt>{iso_time(runtime.created_at)}</CreatedAt>"
        f"<UpdatedAt>{iso_time(runtime.updated_at)}</UpdatedAt>"
        f"<AccessedAt>{iso_time(runtime.accessed_at)}</AccessedAt>"
        "<SupportOrdering>true</SupportOrdering>"
        f'<CountDetails xmlns:d2p1="{COUNTS}">'
        f"<d2p1:ActiveMessageCount>{runtime.active}</d2p1:ActiveMessageCount>"
        f"<d2p1:DeadLetterMessageCount>{runtime.dead_letter}</d2p1:DeadLetterMessageCount>"
        f"<d2p1:ScheduledMessageCount>{runtime.scheduled}</d2p1:ScheduledMessageCount>"
        "<d2p1:TransferMessageCount>0</d2p1:TransferMessageCount>"
        "<d2p1:TransferDeadLetterMessageCount>0</d2p1:TransferDeadLetterMessageCount>"
        "</CountDetails>"
        f"<AutoDeleteOnIdle>{FOREVER}</AutoDeleteOnIdle>"
        "<EnablePartitioning>false</EnablePartitioning>"
        "<EntityAvailabilityStatus>Available</EntityAvailabilityStatus>"
        "<EnableExpress>false</EnableExpress>"
        f"<MaxMessageSizeInKilobytes>{s.max_message_size // 1024}</MaxMessageSizeInKilobytes>"
        "</QueueDescription>"
    )


def _entry_body(base_url: str, runtime: QueueRuntime) -> str:
    name = escape(runtime.settings.name)
    link = f"{base_url}/{name}?api-version=2021-05"
    return (
        f"<id>{link}</id>"
        f'<title type="text">{name}</title>'
        f"<published>{iso_time(runtime.created_at)}</published>"
        f"<updated>{iso_time(runtime.updated_at)}</updated>"
        f"<author><name>{NAMESPACE_NAME}</name></author>"
        f'<link rel="self" href="{link}"/>'
        f'<content type="application/xml">{queue_description(runtime)}</content>'
    )


def queue_entry(base_url: str, runtime: QueueRuntime) -> str:
    """GET /{queue}: one `entry`."""
    return f'<entry xmlns="{ATOM}">{_entry_body(base_url, runtime)}</entry>'


def queue_feed(base_url: str, runtimes: list[QueueRuntime]) -> str:
    """GET /$Resources/queues: a `feed` of entries (empty when the page is past the end).

    Also the answer for an entity that does not exist: Service Bus returns an
    empty feed with 200, and the SDK turns it into ResourceNotFoundError.
    """
    entries = "".join(f"<entry>{_entry_body(base_url, rt)}</entry>" for rt in runtimes)
    return (
        f'<feed xmlns="{ATOM}">'
        f'<title type="text">Queues</title>'
        f"<id>{base_url}/$Resources/queues</id>"
        f"<updated>{iso_time(datetime.now(UTC).timestamp())}</updated>"
        f"{entries}</feed>"
    )


def error(status: int, detail: str) -> str:
    """An error body: the SDK reads `Code` and `Detail` into its exception."""
    return f"<Error><Code>{status}</Code><Detail>{escape(detail)}</Detail></Error>"
