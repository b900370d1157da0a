"""Function groups, as Flex Consumption scales them, and how many instances each gets.

Flex Consumption scales per function group: every HTTP-triggered function
of the app together in the group `http`; every other function (a Service
Bus trigger, a timer) alone in its own group `function:<name>`. Each group
runs on its own instances. The local host mirrors that: one process per
instance, `--instances http=2,process_registration=1` (or the setting
LOCALDEV_HOST_INSTANCES) saying how many each group gets; 1 by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from localdev.host.config import StartupError
from localdev.host.discovery import AnyFunction, HttpFunction

HTTP_GROUP = "http"
INSTANCES_SETTING = "LOCALDEV_HOST_INSTANCES"
MAX_INSTANCES = 16  # a laptop, not a region: more only adds context switches


@dataclass(frozen=True)
class FunctionGroup:
    """One scale group: its name, its functions, its instance count."""

    name: str
    functions: tuple[AnyFunction, ...]
    instances: int = 1

    @property
    def serves_http(self) -> bool:
        return self.name == HTTP_GROUP


def group_name(function: AnyFunction) -> str:
    """`http` for HTTP triggers, else `function:<name>` (Flex's names)."""
    return HTTP_GROUP if isinstance(function, HttpFunction) else f"function:{function.name}"


def parse_instances(spec: str) -> dict[str, int]:
    """`http=2,process_registration=1` -> {"http": 2, "function:process_registration": 1}."""
    counts: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, count = item.partition("=")
        name = name.strip()
        if not sep or not name or not count.strip().isdigit():
            raise StartupError(f"instances: {item!r} is not GROUP=COUNT (e.g. http=2)")
        number = int(count)
        if not 1 <= number <= MAX_INSTANCES:
            raise StartupError(f"instances: {name} must have 1 to {MAX_INSTANCES} instances")
        key = name if name == HTTP_GROUP or name.startswith("function:") else f"function:{name}"
        counts[key] = number
    return counts


def function_groups(functions: Sequence[AnyFunction], spec: str = "") -> list[FunctionGroup]:
    """The app's groups, HTTP first (it always exists: it serves the port), with their counts."""
    counts = parse_instances(spec)
    members: dict[str, list[AnyFunction]] = {HTTP_GROUP: []}
    for function in functions:
        members.setdefault(group_name(function), []).append(function)
    unknown = sorted(set(counts) - set(members))
    if unknown:
        known = ", ".join(members)
        raise StartupError(f"instances: no group {', '.join(unknown)} (groups: {known})")
    return [
        FunctionGroup(name, tuple(group), counts.get(name, 1)) for name, group in members.items()
    ]
