"""AMQP error conditions the SDK maps to its exceptions (see `_pyamqp_transport.py`)."""

NOT_FOUND = "amqp:not-found"  # -> MessagingEntityNotFoundError
UNAUTHORIZED = "amqp:unauthorized-access"  # -> ServiceBusAuthorizationError
INTERNAL_ERROR = "amqp:internal-error"
NOT_IMPLEMENTED = "amqp:not-implemented"
NOT_ALLOWED = "amqp:not-allowed"
DECODE_ERROR = "amqp:decode-error"
INVALID_FIELD = "amqp:invalid-field"  # a section holds a value of a type it does not allow
MESSAGE_SIZE_EXCEEDED = "amqp:link:message-size-exceeded"  # -> MessageSizeExceededError
MESSAGE_LOCK_LOST = "com.microsoft:message-lock-lost"  # -> MessageLockLostError
MESSAGE_NOT_FOUND = "com.microsoft:message-not-found"  # -> MessageNotFoundError
ARGUMENT_ERROR = "com.microsoft:argument-error"
DEAD_LETTER = "com.microsoft:dead-letter"  # the rejected outcome a client sends to dead-letter
