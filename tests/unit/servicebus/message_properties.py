"""The string properties of a message that sets them all, for the tests that check none is lost.

The unit tests parse what the SDK encodes from them; the integration tests send them
through the emulator and compare what comes back.
"""

from __future__ import annotations

from typing import Any

# Any: they go to ServiceBusMessage as keyword arguments, beside others of other types.
EVERY_STRING_PROPERTY: dict[str, Any] = {
    "message_id": "props-1",
    "correlation_id": "corr-9",
    "subject": "user.registered",
    "content_type": "application/json",
    "reply_to": "replies",
    "to": "somewhere",
}
