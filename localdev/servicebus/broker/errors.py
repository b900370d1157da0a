"""What can go wrong inside the broker, independent of the wire protocol.

    BrokerError
     ├── EntityNotFound      no such queue (or sub-queue)
     ├── LockLost            the lock token is unknown, expired, or already settled
     ├── MessageNotFound     no message with that sequence number in that state
     └── MessageTooLarge     over the entity's maximum message size

The AMQP layer maps each to the condition the SDK turns into its own exception.
"""

from __future__ import annotations


class BrokerError(Exception):
    """Base of every broker error."""


class EntityNotFound(BrokerError):
    """The addressed queue does not exist."""


class LockLost(BrokerError):
    """The lock is unknown, expired, or the message was already settled."""


class MessageNotFound(BrokerError):
    """No message with the given sequence number is in the requested state."""


class MessageTooLarge(BrokerError):
    """The message is larger than the entity accepts."""
