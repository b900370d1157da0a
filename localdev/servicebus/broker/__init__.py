"""The emulator's broker core: queue semantics with no wire protocol and an injectable clock."""

from localdev.servicebus.broker.broker import (
    DEAD_LETTER_SUFFIX,
    MAX_DELIVERY_COUNT_REASON,
    TTL_EXPIRED_REASON,
    Broker,
)
from localdev.servicebus.broker.clock import Clock, ManualClock, SystemClock
from localdev.servicebus.broker.config import ConfigError, QueueSettings, load_config, parse_config
from localdev.servicebus.broker.errors import (
    BrokerError,
    EntityNotFound,
    LockLost,
    MessageNotFound,
    MessageTooLarge,
)
from localdev.servicebus.broker.messages import IncomingMessage, MessageState, StoredMessage
from localdev.servicebus.broker.store import MemoryStore, SqliteStore, Store

__all__ = [
    "DEAD_LETTER_SUFFIX",
    "MAX_DELIVERY_COUNT_REASON",
    "TTL_EXPIRED_REASON",
    "Broker",
    "BrokerError",
    "Clock",
    "ConfigError",
    "EntityNotFound",
    "IncomingMessage",
    "LockLost",
    "ManualClock",
    "MemoryStore",
    "MessageNotFound",
    "MessageState",
    "MessageTooLarge",
    "QueueSettings",
    "SqliteStore",
    "Store",
    "StoredMessage",
    "SystemClock",
    "load_config",
    "parse_config",
]
