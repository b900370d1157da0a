"""Link addresses as the SDK writes them, reduced to broker paths.

Entity links use `amqps://host:port/<queue>[/$DeadLetterQueue]`; the CBS node is
`$cbs` and the management node `<queue>[/$DeadLetterQueue]/$management`.
"""

from __future__ import annotations

from dataclasses import dataclass

CBS = "$cbs"
MANAGEMENT_SUFFIX = "/$management"


@dataclass(frozen=True)
class Address:
    """What a link address names: the CBS node, an entity's management node, or an entity."""

    kind: str  # "cbs" | "management" | "entity"
    entity: str  # the entity path as written (case kept), "" for CBS


def parse_address(address: str | None) -> Address:
    """Classify a link address; raises ValueError when it names nothing."""
    if not address:
        raise ValueError("the link has no address")
    path = address
    if "://" in path:
        path = path.split("://", 1)[1].partition("/")[2]
    path = path.strip("/")
    if path == CBS:
        return Address("cbs", "")
    if path.lower().endswith(MANAGEMENT_SUFFIX):
        return Address("management", path[: -len(MANAGEMENT_SUFFIX)])
    if not path:
        raise ValueError(f"the address {address!r} names no entity")
    return Address("entity", path)
