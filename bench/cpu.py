"""CPU seconds used by process trees between two points, with psutil.

The host is a supervisor with one child per instance, so a tree is the unit.
A process that starts in between counts from zero; one that ends in between
is not counted (the measured phases restart nothing).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

import psutil


def host_group(group: str) -> Callable[[list[str]], bool]:
    """Select the local host's instances of one function group (`--group G` on their command)."""

    def selected(cmdline: list[str]) -> bool:
        return any(a == "--group" and b == group for a, b in itertools.pairwise(cmdline))

    return selected


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return float(times.user + times.system)


class CpuMeter:
    """`with CpuMeter([pid, ...]) as meter: ...` then `meter.seconds`."""

    def __init__(
        self, pids: Iterable[int | None], only: Callable[[list[str]], bool] | None = None
    ) -> None:
        self.pids = [pid for pid in pids if pid is not None]
        self.only = only  # a filter on each process's command line
        self.seconds = 0.0
        self._start: dict[int, float] = {}

    def _sample(self) -> dict[int, float]:
        sample: dict[int, float] = {}
        for pid in self.pids:
            for process in _tree(pid):
                if self.only is not None and not self._selected(process):
                    continue
                used = _cpu(process)
                if used is not None:
                    sample[process.pid] = used
        return sample

    def _selected(self, process: psutil.Process) -> bool:
        assert self.only is not None
        try:
            return self.only(process.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False

    def __enter__(self) -> CpuMeter:
        self._start = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._sample()
        self.seconds = sum(used - self._start.get(pid, 0.0) for pid, used in end.items())
