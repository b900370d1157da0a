"""The reconciler's own ceiling on Management API requests, and its backoff after a 429.

Auth0's rate limit is per tenant and shared by every client, so the reconciler
spaces its requests `1 / RECONCILE_MAX_RPS` seconds apart (no burst) instead
of spending the tenant's bucket; a 429 holds every request until the
`x-ratelimit-reset` second Auth0 named.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RequestCeiling:
    """At most `rate` requests per second: each `acquire` waits for the next free slot."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("the request ceiling must be above 0 per second")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next_slot = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until a request may be sent, and take that slot."""
        with self._lock:
            now = self._clock()
            slot = max(self._next_slot, now)
            self._next_slot = slot + self.interval
        if slot > now:
            self._sleep(slot - now)

    def hold_until(self, moment: float) -> None:
        """No request before `moment` (on this ceiling's clock): the answer to a 429."""
        with self._lock:
            self._next_slot = max(self._next_slot, moment)
