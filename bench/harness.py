"""Shared plumbing for the benchmarks: timing, percentiles, concurrency, the table, the JSON.

Every benchmark result is a `Measurement` set against a baseline measured in
the same run (the machine is shared and noisy, so only ratios travel), and
every benchmark module ends with `report(...)`: one table on stdout and one
JSON file under `bench/results/` (git-ignored).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

RESULTS_DIR = Path(__file__).resolve().parent / "results"
T = TypeVar("T")


class Stopwatch:
    """Wall-clock seconds since `start()` (monotonic)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.stopped: float | None = None

    def stop(self) -> float:
        self.stopped = time.perf_counter()
        return self.elapsed

    @property
    def elapsed(self) -> float:
        end = self.stopped if self.stopped is not None else time.perf_counter()
        return end - self.started


@contextmanager
def timed() -> Iterator[Stopwatch]:
    """`with timed() as watch: ...` then `watch.elapsed` (seconds)."""
    watch = Stopwatch()
    try:
        yield watch
    finally:
        watch.stop()


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def run_concurrently(work: Callable[[T], object], items: Iterable[T], concurrency: int) -> float:
    """Run `work(item)` for every item on `concurrency` threads; the elapsed seconds.

    The first exception is re-raised: a baseline that failed is not a baseline.
    """
    with timed() as watch, ThreadPoolExecutor(concurrency) as pool:
        for _ in pool.map(work, items):
            pass
    return watch.elapsed


def wait_until(
    condition: Callable[[], bool], timeout: float, interval: float = 0.2, what: str = "condition"
) -> None:
    """Poll `condition` until it is true; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f}s")
        time.sleep(interval)


@dataclass
class Measurement:
    """One benchmark figure set against its same-run baseline.

    `ratio` is value / baseline. A throughput goal is a `goal_min` (the
    ratio must reach it), a cost or spread goal a `goal_max` (the ratio
    must stay under it).
    """

    name: str
    value: float
    baseline: float
    unit: str
    goal_min: float | None = None
    goal_max: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        if self.value == 0 or self.baseline == 0:
            return math.nan
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        """True/False against the goal; None when there is no goal."""
        if self.goal_min is None and self.goal_max is None:
            return None
        ratio = self.ratio
        if math.isnan(ratio):
            return False
        low_ok = self.goal_min is None or ratio >= self.goal_min
        high_ok = self.goal_max is None or ratio <= self.goal_max
        return low_ok and high_ok

    def goal_text(self) -> str:
        if self.goal_min is not None:
            return f">= {self.goal_min:g}"
        if self.goal_max is not None:
            return f"<= {self.goal_max:g}"
        return "-"

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ratio=_finite(self.ratio), met=self.met, goal=self.goal_text())
        return data


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else round(value, 4)


def _figure(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def render_table(measurements: Sequence[Measurement]) -> str:
    """A plain-text table: name, value, baseline, ratio, goal, verdict."""
    header = ("benchmark", "value", "baseline", "unit", "ratio", "goal", "")
    rows = [header]
    for m in measurements:
        verdict = {True: "met", False: "MISSED", None: ""}[m.met]
        rows.append(
            (
                m.name,
                _figure(m.value),
                _figure(m.baseline),
                m.unit,
                _figure(m.ratio),
                m.goal_text(),
                verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_end": [round(x, 2) for x in load],
    }


def write_results(name: str, measurements: Sequence[Measurement], **extra: Any) -> Path:
    """Write `bench/results/<name>.json`; returns its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **extra,
        "results": [m.as_json() for m in measurements],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def report(name: str, measurements: Sequence[Measurement], **extra: Any) -> int:
    """Print the table, write the JSON; exit code 0 (goals missed are findings, not failures)."""
    print(render_table(measurements), flush=True)
    path = write_results(name, measurements, **extra)
    missed = [m.name for m in measurements if m.met is False]
    if missed:
        print(f"goals missed: {', '.join(missed)} (see docs/benchmarks.md)")
    print(f"results: {path}", flush=True)
    return 0
