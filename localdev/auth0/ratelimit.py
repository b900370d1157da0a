"""The tenant-wide Management API rate limit, as Auth0 documents it: a token bucket.

A bucket holds up to `limit` requests and gets `per_second` back each second.
Every answer carries `x-ratelimit-limit`, `x-ratelimit-remaining` and
`x-ratelimit-reset` (UNIX seconds when the bucket is full again); an empty
bucket answers 429, and then `x-ratelimit-reset` is the second from which a
request is allowed again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Decision:
    """Whether one request may go through, with the headers to send either way."""

    allowed: bool
    headers: dict[str, str]


@dataclass
class RateLimit:
    """A token bucket; `per_second <= 0` means unlimited (no headers, never 429)."""

    limit: int
    per_second: float
    clock: Callable[[], float] = time.time
    _tokens: float = field(init=False)
    _updated: float = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._tokens = float(self.limit)
        self._updated = self.clock()

    def take(self) -> Decision:
        """Spend one request if the bucket has one."""
        if self.per_second <= 0:
            return Decision(True, {})
        with self._lock:
            now = self.clock()
            self._tokens = min(
                float(self.limit), self._tokens + (now - self._updated) * self.per_second
            )
            self._updated = now
            allowed = self._tokens >= 1.0
            if allowed:
                self._tokens -= 1.0
                reset = now + (self.limit - self._tokens) / self.per_second
            else:
                reset = now + (1.0 - self._tokens) / self.per_second
            headers = {
                "x-ratelimit-limit": str(self.limit),
                "x-ratelimit-remaining": str(math.floor(self._tokens)),
                "x-ratelimit-reset": str(math.ceil(reset)),
            }
        return Decision(allowed, headers)
