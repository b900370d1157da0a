"""The retry policy, as data, in one place.

Only `TransientError`s are retried; everything else fails at once. Waits are
exponential with jitter and capped, and every policy has a total time budget
(`stop_before_delay`: no attempt starts after the budget would be exceeded).
docs/pipeline.md multiplies these bounds with broker redelivery and the
Action's retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import tenacity

from shared.errors import TransientError

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by attempts and by total time."""

    name: str
    max_attempts: int
    initial_delay: float  # seconds before the 2nd attempt (before jitter)
    max_delay: float  # cap of one wait (before jitter)
    jitter: float  # up to this many seconds added to each wait
    total_budget: float  # no attempt starts later than this after the first
    retry_on: tuple[type[BaseException], ...] = field(default=(TransientError,))

    def compute_backoff(self, attempt: int) -> float:
        """Longest wait after failed attempt number `attempt` (1-based), jitter included."""
        return float(min(self.max_delay, self.initial_delay * 2 ** (attempt - 1)) + self.jitter)

    def worst_case_waiting(self) -> float:
        """Upper bound of the time spent sleeping between attempts."""
        waits = sum(self.compute_backoff(n) for n in range(1, self.max_attempts))
        return min(waits, self.total_budget)

    def retrying(
        self,
        sleep: Callable[[float], None] = time.sleep,
        before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
    ) -> tenacity.Retrying:
        """A tenacity `Retrying` for this policy (re-raises the last error)."""
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts)
            | tenacity.stop_before_delay(self.total_budget),
            wait=tenacity.wait_exponential(multiplier=self.initial_delay, max=self.max_delay)
            + tenacity.wait_random(0, self.jitter),
            retry=tenacity.retry_if_exception_type(self.retry_on),
            reraise=True,
            sleep=sleep,
            before_sleep=before_sleep,
        )

    def call(
        self,
        function: Callable[P, R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Call `function` under this policy with the real clock."""
        return self.retrying()(function, *args, **kwargs)


# Processor, one delivery: table writes. 5 attempts, waits <= 1.0+1.5+2.5+4.5 = 9.5 s,
# budget 25 s: far inside the 60 s message lock (which the host also renews).
PROCESSOR_TABLE_RETRY = RetryPolicy(
    name="processor-table",
    max_attempts=5,
    initial_delay=0.5,
    max_delay=8.0,
    jitter=0.5,
    total_budget=25.0,
)

# Ingest, one HTTP request: enqueue. 3 attempts, waits <= 0.4+0.6 = 1.0 s, budget 3 s,
# then 503 + Retry-After: the Action (20 s execution limit) retries, not us.
INGEST_PUBLISH_RETRY = RetryPolicy(
    name="ingest-publish",
    max_attempts=3,
    initial_delay=0.2,
    max_delay=1.0,
    jitter=0.2,
    total_budget=3.0,
)
