"""Half-open `created_at` windows in whole milliseconds, and their Auth0 queries.

Auth0 stores `created_at` with millisecond precision. A window is
`[start, end)`: the query is `created_at:[START TO END}` (`[` inclusive, `}`
exclusive), so windows that share an edge split the users of that very
millisecond between them exactly once: none missed, none counted twice.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime, truncated (as Auth0 truncates)."""
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return _EPOCH + timedelta(milliseconds=ms)


def iso_ms(ms: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`, the form Auth0 answers with and accepts in ranges."""
    moment = from_ms(ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, order=True)
class Window:
    """Users with `start_ms <= created_at < end_ms`."""

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ValueError("a window must end after it starts")

    @classmethod
    def between(cls, since: datetime, until: datetime) -> Window:
        return cls(to_ms(since), to_ms(until))

    @property
    def width_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def start(self) -> datetime:
        return from_ms(self.start_ms)

    @property
    def end(self) -> datetime:
        return from_ms(self.end_ms)

    def query(self) -> str:
        """The Lucene range Auth0's user search (v3) takes for this window."""
        return f"created_at:[{iso_ms(self.start_ms)} TO {iso_ms(self.end_ms)}}}"

    def split(self, parts: int) -> list[Window]:
        """`parts` (at least 2, at most one per millisecond) adjacent windows, in time order."""
        if self.width_ms < 2:
            raise ValueError("a one-millisecond window cannot be split")
        parts = min(max(2, parts), self.width_ms)
        edges = [self.start_ms + self.width_ms * index // parts for index in range(parts + 1)]
        return [Window(low, high) for low, high in itertools.pairwise(edges)]
