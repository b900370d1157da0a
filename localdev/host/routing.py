"""Route templates as the Functions host reads them (ASP.NET Core syntax, the common part).

Supported: literal segments (case-insensitive), `{name}`, `{name:constraint}`
(int, long, bool, guid, alpha, double, decimal, float; others accept any
segment), `{name?}` as the last segment, and a catch-all `{*name}`.
More specific templates win: literals over parameters over catch-alls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from localdev.host.discovery import HttpFunction

_SEGMENT_PARAM = re.compile(
    r"^\{(?P<star>\*{1,2})?(?P<name>[A-Za-z_]\w*)(?::(?P<constraint>[^}?]+))?(?P<opt>\?)?\}$"
)
_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "alpha": r"[A-Za-z]+",
    "double": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
}


class RouteTemplateError(ValueError):
    """A route template this host cannot read."""


@dataclass(frozen=True)
class RouteTemplate:
    """A compiled template: a regex over the decoded path, plus a precedence key."""

    template: str
    pattern: re.Pattern[str]
    precedence: tuple[int, ...]

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {
            name: unquote(value) for name, value in found.groupdict().items() if value is not None
        }


def compile_template(prefix: str, route: str) -> RouteTemplate:
    """Compile `/<prefix>/<route>` into a RouteTemplate."""
    segments = [s for s in f"{prefix.strip('/')}/{route.strip('/')}".split("/") if s]
    parts: list[str] = []
    precedence: list[int] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        param = _SEGMENT_PARAM.match(segment)
        if param is None:
            if "{" in segment or "}" in segment:
                raise RouteTemplateError(f"route {route!r}: unsupported segment {segment!r}")
            parts.append("/" + re.escape(segment))
            precedence.append(0)
            continue
        name, constraint = param["name"], param["constraint"]
        if param["star"]:
            if not last:
                raise RouteTemplateError(f"route {route!r}: a catch-all must be the last segment")
            parts.append(f"(?:/(?P<{name}>.*))?")
            precedence.append(3)
            continue
        body = _CONSTRAINTS.get((constraint or "").split("(")[0].lower(), r"[^/]+")
        if param["opt"]:
            if not last:
                raise RouteTemplateError(f"route {route!r}: only the last segment may be optional")
            parts.append(f"(?:/(?P<{name}>{body}))?")
        else:
            parts.append(f"/(?P<{name}>{body})")
        precedence.append(1 if constraint else 2)
    pattern = re.compile("".join(parts) + "/?", re.IGNORECASE)
    return RouteTemplate(template=route, pattern=pattern, precedence=tuple(precedence))


@dataclass(frozen=True)
class RouteMatch:
    """The function a request goes to, and its route parameters."""

    function: HttpFunction
    route_params: dict[str, str]


@dataclass(frozen=True)
class RouteMiss:
    """No function for this request: 404, or 405 with the methods that would work."""

    status: int
    allowed: frozenset[str]


class Router:
    """Maps (method, path) to an HTTP function."""

    def __init__(self, prefix: str, functions: Iterable[HttpFunction]) -> None:
        compiled = [(compile_template(prefix, f.route), f) for f in functions]
        self._routes = sorted(compiled, key=lambda pair: pair[0].precedence)

    def resolve(self, method: str, path: str) -> RouteMatch | RouteMiss:
        allowed: set[str] = set()
        for template, function in self._routes:
            params = template.match(path)
            if params is None:
                continue
            if function.methods is None or method.upper() in function.methods:
                return RouteMatch(function, params)
            allowed |= function.methods
        if allowed:
            return RouteMiss(status=405, allowed=frozenset(allowed))
        return RouteMiss(status=404, allowed=frozenset())
