"""The fault-injection suite's plugin: a stack fixture, and the one line of figures at the end.

Scenarios report what they saw through the `figures` fixture (registrations
accepted, lost, duplicated; inputs tried; 5xx seen); this module counts the
scenarios that passed and prints everything as one line in the terminal
summary, for `make reliability` (slow scenarios) and `make test` (fast ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


@dataclass
class Figures:
    """Counters the scenarios add to; one instance per pytest session."""

    scenarios_run: int = 0
    scenarios_passed: int = 0
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    inputs: int = 0
    server_errors: int = 0

    def add(self, **counts: int) -> None:
        for name, value in counts.items():
            setattr(self, name, getattr(self, name) + value)

    def line(self) -> str:
        return (
            f"reliability: {self.scenarios_passed}/{self.scenarios_run} scenarios passed, "
            f"{self.accepted} registrations accepted, {self.lost} lost, "
            f"{self.duplicated} duplicated, {self.inputs} inputs tried, "
            f"{self.server_errors} 5xx seen"
        )


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
    figures.scenarios_run = len(_OUTCOMES)
    figures.scenarios_passed = sum(_OUTCOMES.values())
    terminalreporter.write_line(figures.line())


@pytest.fixture
def fault_stack(local_stack: Callable[..., Any]) -> Callable[..., Any]:
    """`local_stack` for fault scenarios (the stack passes `queue_properties` to the emulator)."""
    return local_stack
