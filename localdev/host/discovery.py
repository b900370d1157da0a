"""Load a Python v2 programming-model app and turn its functions into what the host serves.

Only HTTP triggers (with their `$return` HTTP output), Service Bus *queue*
triggers and timer triggers are supported; anything else stops the start-up
with a one-line error that names the function, instead of silently never
firing.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions.decorators.core import Binding
from azure.functions.decorators.function_app import Function, FunctionRegister

from localdev.host.config import StartupError, resolve_setting_expressions
from localdev.host.ncrontab import Schedule, ScheduleError, parse

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class FunctionTarget:
    """The user's callable and how to call it."""

    name: str
    callable: Callable[..., Any]
    trigger_arg: str
    context_arg: str | None
    is_async: bool


@dataclass(frozen=True)
class HttpFunction(FunctionTarget):
    """An HTTP-triggered function: route template (without prefix), methods, auth level."""

    route: str
    methods: frozenset[str] | None  # None: every method
    auth_level: str  # "anonymous" | "function" | "admin"


@dataclass(frozen=True)
class ServiceBusFunction(FunctionTarget):
    """A Service Bus queue-triggered function, with its queue and connection resolved."""

    queue_name: str
    connection_setting: str
    connection_string: str
    auto_complete_messages: bool | None  # None: host.json decides


@dataclass(frozen=True)
class TimerFunction(FunctionTarget):
    """A timer-triggered function, its NCRONTAB schedule resolved from `%SETTING%`."""

    schedule: Schedule
    run_on_startup: bool
    use_monitor: bool


AnyFunction = HttpFunction | ServiceBusFunction | TimerFunction
SUPPORTED = "only HTTP, Service Bus queue and timer triggers"


def load_app_module(app_path: Path) -> FunctionRegister:
    """Import the app file (its folder first on sys.path, like the worker) and return its app."""
    if not app_path.is_file():
        raise StartupError(f"{app_path}: no such app file")
    folder = str(app_path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(app_path.stem, app_path)
    if spec is None or spec.loader is None:
        raise StartupError(f"{app_path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[app_path.stem] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise StartupError(f"{app_path}: import failed: {type(exc).__name__}: {exc}") from exc
    apps = [value for value in vars(module).values() if isinstance(value, FunctionRegister)]
    if len(apps) != 1:
        raise StartupError(f"{app_path}: expected exactly one FunctionApp, found {len(apps)}")
    return apps[0]


def discover_functions(app: FunctionRegister, settings: Mapping[str, str]) -> list[AnyFunction]:
    """Every function of the app, validated; unsupported bindings raise StartupError."""
    try:
        functions = app.get_functions()
    except ValueError as exc:
        raise StartupError(f"function indexing failed: {exc}") from exc
    return [_describe(function, settings) for function in functions]


def _describe(function: Function, settings: Mapping[str, str]) -> AnyFunction:
    name = str(function.get_function_name())
    trigger = function.get_trigger()
    if trigger is None:  # get_functions() already refuses this; keep mypy and readers honest
        raise StartupError(f"function {name!r}: no trigger")
    for binding in function.get_bindings():
        if binding is not trigger and not _is_http_return(binding, trigger):
            raise StartupError(
                f"function {name!r}: binding {binding.type!r} ({binding.name!r}) is not supported "
                f"by the local host ({SUPPORTED})"
            )
    target = _target(function, name, trigger.name)
    if trigger.type == "httpTrigger":
        return _http_function(target, trigger, settings)
    if trigger.type == "serviceBusTrigger" and getattr(trigger, "queue_name", None):
        return _servicebus_function(target, trigger, settings)
    if trigger.type == "timerTrigger":
        return _timer_function(target, trigger, settings)
    kind = "Service Bus topic subscription" if trigger.type == "serviceBusTrigger" else trigger.type
    raise StartupError(
        f"function {name!r}: trigger {kind!r} is not supported by the local host ({SUPPORTED})"
    )


def _is_http_return(binding: Binding, trigger: Binding) -> bool:
    return binding.type == "http" and binding.name == "$return" and trigger.type == "httpTrigger"


def _target(function: Function, name: str, trigger_arg: str) -> FunctionTarget:
    user_function = function.get_user_function()
    context_arg = None
    for parameter in inspect.signature(user_function).parameters.values():
        if parameter.name == trigger_arg:
            continue
        if parameter.name == "context" or parameter.annotation in (func.Context, "func.Context"):
            context_arg = parameter.name
            continue
        if parameter.default is inspect.Parameter.empty:
            raise StartupError(f"function {name!r}: parameter {parameter.name!r} has no binding")
    return FunctionTarget(
        name=name,
        callable=user_function,
        trigger_arg=trigger_arg,
        context_arg=context_arg,
        is_async=inspect.iscoroutinefunction(user_function),
    )


def _fields(target: FunctionTarget) -> dict[str, Any]:
    # Read from the class, so a field added to FunctionTarget reaches every trigger kind.
    return {field.name: getattr(target, field.name) for field in fields(FunctionTarget)}


def _enum_value(value: Any) -> str:
    return str(getattr(value, "value", value))


def _http_function(
    target: FunctionTarget, trigger: Binding, settings: Mapping[str, str]
) -> HttpFunction:
    where = f"function {target.name!r}"
    route = resolve_setting_expressions(
        str(getattr(trigger, "route", None) or target.name), settings, where
    )
    raw_methods = getattr(trigger, "methods", None)
    methods = frozenset(_enum_value(m).upper() for m in raw_methods) if raw_methods else None
    if methods is not None and not methods <= HTTP_METHODS:
        raise StartupError(f"{where}: unknown HTTP method(s) {sorted(methods - HTTP_METHODS)}")
    level = _enum_value(getattr(trigger, "auth_level", None) or "function").lower()
    if level not in {"anonymous", "function", "admin"}:
        raise StartupError(f"{where}: unknown auth level {level!r}")
    return HttpFunction(
        **_fields(target), route=route.strip("/"), methods=methods, auth_level=level
    )


def _servicebus_function(
    target: FunctionTarget, trigger: Binding, settings: Mapping[str, str]
) -> ServiceBusFunction:
    where = f"function {target.name!r}"
    if _enum_value(getattr(trigger, "cardinality", None) or "one").lower() == "many":
        raise StartupError(
            f"{where}: cardinality 'many' (batches) is not supported by the local host"
        )
    if getattr(trigger, "is_sessions_enabled", None):
        raise StartupError(f"{where}: session-enabled queues are not supported by the local host")
    queue = resolve_setting_expressions(str(trigger.queue_name), settings, where)  # type: ignore[attr-defined]
    setting = resolve_setting_expressions(str(trigger.connection), settings, where)  # type: ignore[attr-defined]
    connection = settings.get(setting) or settings.get(f"AzureWebJobs{setting}")
    if not connection:
        hint = (
            " (identity-based connections need Azure; use a connection string locally)"
            if settings.get(f"{setting}__fullyQualifiedNamespace")
            else ""
        )
        raise StartupError(f"{where}: app setting {setting!r} (the connection) is not set{hint}")
    auto_complete = getattr(trigger, "auto_complete_messages", None)
    return ServiceBusFunction(
        **_fields(target),
        queue_name=queue,
        connection_setting=setting,
        connection_string=connection,
        auto_complete_messages=None if auto_complete is None else bool(auto_complete),
    )


def _timer_function(
    target: FunctionTarget, trigger: Binding, settings: Mapping[str, str]
) -> TimerFunction:
    where = f"function {target.name!r}"
    expression = resolve_setting_expressions(str(trigger.schedule), settings, where)  # type: ignore[attr-defined]
    try:
        schedule = parse(expression)
    except ScheduleError as exc:
        raise StartupError(f"{where}: bad timer schedule: {exc}") from exc
    use_monitor = getattr(trigger, "use_monitor", None)
    if use_monitor is None:
        # The timer extension's default: monitored when occurrences are at least a minute apart.
        gap = schedule.shortest_interval(datetime.now(UTC))
        use_monitor = gap >= timedelta(minutes=1)
    return TimerFunction(
        **_fields(target),
        schedule=schedule,
        run_on_startup=bool(getattr(trigger, "run_on_startup", None)),
        use_monitor=bool(use_monitor),
    )
