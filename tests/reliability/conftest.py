"""The fault-injection suite's plugin: a stack fixture, and the one line of figures at the end.

Scenarios report what they saw through the `figures` fixture (registrations
accepted, lost, duplicated; inputs tried; 5xx seen); this module counts the
scenarios that passed and prints everything as one line in the terminal
summary, for `make reliability` (slow scenarios) and `make test` (fast ones).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


# What the scenarios count, in the order the summary line names them, with its words for each.
COUNTED = {
    "accepted": "registrations accepted",
    "lost": "lost",
    "duplicated": "duplicated",
    "inputs": "inputs tried",
    "server_errors": "5xx seen",
}


@dataclass
class Figures:
    """Counters the scenarios add to (the names in COUNTED); one instance per pytest session."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, **counts: int) -> None:
        unknown = counts.keys() - COUNTED.keys()
        assert not unknown, f"not a reliability figure: {sorted(unknown)}"
        self.counts.update(counts)

    def line(self, scenarios_passed: int, scenarios_run: int) -> str:
        counted = ", ".join(f"{self.counts[name]} {words}" for name, words in COUNTED.items())
        return f"reliability: {scenarios_passed}/{scenarios_run} scenarios passed, {counted}"


FIGURES = pytest.StashKey[Figures]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FIGURES] = Figures()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """The session's counters (add with `figures.add(accepted=..., lost=...)`)."""
    return request.config.stash[FIGURES]


_SCENARIOS: set[str] = set()  # node ids of the selected tests in this folder
# nodeid -> passed so far (setup, call and teardown must all pass); skipped ones are dropped.
_OUTCOMES: dict[str, bool] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _SCENARIOS.update(item.nodeid for item in items if item.path.is_relative_to(HERE))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid not in _SCENARIOS:
        return
    if report.skipped:
        _OUTCOMES.pop(report.nodeid, None)
        return
    _OUTCOMES[report.nodeid] = _OUTCOMES.get(report.nodeid, True) and report.passed


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not _OUTCOMES:
        return
    figures = config.stash[FIGURES]
    terminalreporter.write_line(figures.line(sum(_OUTCOMES.values()), len(_OUTCOMES)))


@pytest.fixture
def fault_stack(local_stack: Callable[..., Any]) -> Callable[..., Any]:
    """`local_stack` for fault scenarios (the stack passes `queue_properties` to the emulator)."""
    return local_stack
