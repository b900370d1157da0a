"""Calling user functions the way the Python worker does, and logging each call.

Async functions run on the host's event loop; sync functions run in a
thread pool so a slow one never blocks HTTP or Service Bus traffic.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions._abc import RetryContext, TraceContext

from localdev.host.discovery import FunctionTarget

LOGGER_NAME = "localdev.host"
log = logging.getLogger(LOGGER_NAME)


class _TraceContext(TraceContext):
    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


_thread_local = threading.local()


@dataclass(frozen=True)
class InvocationContext(func.Context):
    """The `context` argument: invocation id, function name and directory."""

    _invocation_id: str
    _function_name: str
    _function_directory: str

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return _thread_local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        return _TraceContext()

    @property
    def retry_context(self) -> RetryContext:
        return _RetryContext()


@dataclass
class Invoker:
    """Runs user functions; owns the thread pool for sync ones."""

    app_directory: Path
    max_threads: int | None = None  # PYTHON_THREADPOOL_THREAD_COUNT; None: min(32, CPUs + 4)
    _pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.max_threads, thread_name_prefix="function")

    async def call(self, target: FunctionTarget, trigger_value: Any) -> Any:
        """Call `target` with its trigger argument (and context, if it asks for one)."""
        kwargs: dict[str, Any] = {target.trigger_arg: trigger_value}
        if target.context_arg:
            kwargs[target.context_arg] = InvocationContext(
                str(uuid.uuid4()), target.name, str(self.app_directory)
            )
        if target.is_async:
            return await target.callable(**kwargs)
        call: Callable[[], Any] = functools.partial(target.callable, **kwargs)
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._pool, context.run, call)

    def close(self, wait: bool) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


def log_event(event: str, level: int = logging.INFO, exc_info: bool = False, **fields: Any) -> None:
    """One structured line: the event name plus fields (never payloads)."""
    log.log(level, event, exc_info=exc_info, extra={"fields": fields})


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


class JsonLineFormatter(logging.Formatter):
    """Every record as one JSON object per line: ts, level, logger, message, and fields.

    `instance` (e.g. "http#1") names the host instance that wrote the line, when several
    processes share one log.
    """

    def __init__(self, instance: str | None = None) -> None:
        super().__init__()
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.instance:
            line["instance"] = self.instance
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: int = logging.INFO, instance: str | None = None) -> None:
    """Send every logger (host and app) to stdout as JSON lines; quiet the SDKs' chatter."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLineFormatter(instance))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("azure", "aiohttp.access", "uamqp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
